"""One model instance: a process holding one copy of the network, running the batches it is handed.

Started by `service.instances.Instance` as `python -m service.instance FD SLOT_FD`: FD is its end of
a socket pair carrying small control messages (pickled tuples of numbers and strings), SLOT_FD a
shared-memory file (memfd) both processes map: the parent writes a batch's chunks and conditions
there, this process writes the separated chunks back. No audio is ever pickled.

    slot: [inputs: capacity x f32][conditions: batches x D x f32][outputs: capacity x f32]

Messages, each answered before the next is read:
    ("load", spec)                 -> ("loaded", pid)         the network, its device, dtype, compile
    ("threads", n)                 -> ("ok",)                 torch's intra-op threads from now on
    ("time", batch, length, n)     -> ("timed", [seconds])    n passes of zeros of that shape
    ("warm", [(batch, length)])    -> ("warmed", seconds)     one pass of each shape
    ("run", batch, length)         -> ("done",) | ("failed", message)    the batch in the slot
    ("exit",)                      -> exits 0
It ignores SIGINT and SIGTERM: the HTTP process decides when it ends (a Ctrl-C in a terminal reaches
the whole process group, and the drain must not lose its instances). If the HTTP process dies, the
socket closes and this process exits.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection

import torch

logger = logging.getLogger("service.instance")

FLOAT_BYTES = 4


class Slot:
    """The shared-memory slot's three regions as flat float32 tensors (views, no copies)."""

    def __init__(self, fd: int, capacity: int, batches: int, condition_size: int):
        self.capacity, self.condition_size = capacity, condition_size
        sizes = [capacity, batches * condition_size, capacity]
        self.memory = mmap.mmap(fd, sum(sizes) * FLOAT_BYTES)
        flat = torch.frombuffer(self.memory, dtype=torch.float32)
        self.inputs, self.conditions, self.outputs = flat.split(sizes)

    @staticmethod
    def bytes_for(capacity: int, batches: int, condition_size: int) -> int:
        return (2 * capacity + batches * condition_size) * FLOAT_BYTES

    def views(self, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs [B, L], conditions [B, D], outputs [B, L]) of one batch."""
        size = batch * length
        return (
            self.inputs[:size].view(batch, length),
            self.conditions[: batch * self.condition_size].view(batch, self.condition_size),
            self.outputs[:size].view(batch, length),
        )


def load(spec: dict):
    """The `Network` a spec names (see `service.instances.InstanceSpec`)."""
    from model.network import Network, load_network

    model = load_network(spec["kind"], spec["path"])
    return Network(model, spec["device"], spec["dtype"], compile=spec["compile"])


def serve(connection: Connection, slot: Slot) -> None:
    network = None
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the HTTP process is gone
            return
        kind = message[0]
        if kind == "exit":
            return
        try:
            if kind == "load":
                spec = message[1]
                torch.set_num_threads(spec["threads"])
                network = load(spec)
                connection.send(("loaded", os.getpid()))
            elif kind == "threads":
                torch.set_num_threads(message[1])
                connection.send(("ok",))
            elif kind == "time":
                _, batch, length, passes = message
                connection.send(("timed", time_passes(network, slot.condition_size, batch, length, passes)))
            elif kind == "warm":
                started = time.monotonic()
                for batch, length in message[1]:
                    time_passes(network, slot.condition_size, batch, length, 1)
                connection.send(("warmed", time.monotonic() - started))
            elif kind == "run":
                _, batch, length = message
                inputs, conditions, outputs = slot.views(batch, length)
                outputs.copy_(network(inputs, conditions))
                connection.send(("done",))
            else:
                connection.send(("failed", f"unknown message {kind!r}"))
        except Exception as error:  # e.g. CUDA out of memory: this batch fails, the instance serves on
            logger.exception("instance %d: %s failed", os.getpid(), kind)
            connection.send(("failed", f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"))


def time_passes(network, condition_size: int, batch: int, length: int, passes: int) -> list[float]:
    chunks, conditions = torch.zeros(batch, length), torch.zeros(batch, condition_size)
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        network(chunks, conditions)
        if network.device.type == "cuda":
            torch.cuda.synchronize(network.device)
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd, slot_fd, capacity, batches, condition_size, log_format = argv
    from service import logs

    logs.configure(log_format, transformers=False)
    connection = Connection(int(fd))
    slot = Slot(int(slot_fd), int(capacity), int(batches), int(condition_size))
    serve(connection, slot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

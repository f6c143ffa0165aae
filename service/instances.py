"""Model instances as processes: how many, how wide, and what happens when one dies.

The HTTP process (uvicorn, decoding, resampling, the plan's overlap-add, encoding, the scheduler)
and the model (weights, forward pass) live in different processes. Each `Instance` is a process
(`service/instance.py`) holding one copy of the network on its device; the batcher's one queue
feeds them all, one thread per instance here handing it batches. Chunks, conditions and results
cross by shared memory (a memfd slot per instance, mapped on both sides: the batch is stacked
straight into it, the results read straight out of it); only small control messages cross the
socket. So a forward pass never competes with the event loop for the GIL, and on a CPU several
single-threaded instances can use the cores better than one multi-threaded forward (which stalls
whenever anything else takes a core).

How many, how wide (`TEXTSEP_INSTANCES`, `TEXTSEP_THREADS`, `TEXTSEP_MAX_BATCH`):
- CPU, `auto`: at warm-up every configuration that fills the cores (instances x threads = cores:
  2 x 1 and 1 x 2 on two cores) is timed at batch sizes 1, 2, 4, ... (while doubling pays), all of a
  configuration's instances running at once; each figure is the best of `ROUNDS` short rounds, so a
  busy moment does not decide. The best throughput wins, but for more threads per instance it must
  win by WIDTH_MARGIN (serving, the HTTP process shares the cores, and a wide forward pass stalls
  whenever anything else takes one); the table is logged and shown in /v1/info.
- GPU: one instance per device by default (all visible GPUs when TEXTSEP_DEVICE is unset).

Faults: an instance that dies (SIGKILL, out of memory) is noticed at once: mid-batch its socket
closes under the waiting thread (`WorkerLost`: the batcher re-queues the batch once), idle its
waiter thread sees the exit. The instance is then restarted (loaded and warmed again) while the
others serve on; /readyz says 503 only while no instance is serving.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

import torch
from pydantic import BaseModel, Field

from service.batcher import Batch, WorkerLost
from service.instance import Slot
from service.metrics import Metrics
from service.settings import Settings

logger = logging.getLogger(__name__)

AUTO_BATCH_CEILING = 64
MAX_AUTO_INSTANCES = 8  # on a CPU: more copies of the model than this cost memory for little
ROUNDS = 3  # timed rounds per configuration and batch size; the best counts ...
ROUNDS_BUDGET_S = 2.0  # ... but no more rounds once this is spent (a slow configuration is no contender)
PASSES = 1  # forward passes per instance per round
BATCH_TOLERANCE = 0.05  # a larger batch within this of the best throughput is preferred
# A configuration with more threads per instance must beat the narrowest by this much to be chosen:
# when it serves, the HTTP process takes part of the cores, and a multi-threaded forward pass stalls
# whenever anything else takes one of its cores (measured: a 2-thread compiled instance chosen at
# warm-up by 220 vs 186 chunk audio s per s served 3-12 under load, two 1-thread ones 120-135 eager),
# which warm-up, with nothing else running, does not see.
WIDTH_MARGIN = 0.2
STOP_TIMEOUT_S = 10
ROOT = Path(__file__).resolve().parents[1]


class Measurement(NamedTuple):
    instances: int
    threads: int
    batch: int
    chunk_audio_per_second: float  # all the configuration's instances together


@dataclass
class Choice:
    """How the model runs, and why."""

    instances: int
    threads: int
    max_batch: int
    compiled: bool
    how: str  # "measured", "set", "one per GPU", ...
    devices: list[str]
    table: list[Measurement] = field(default_factory=list)
    seconds_per_sample: float = 1e-4  # one instance's forward time per sample of chunk audio, at max_batch


@dataclass(frozen=True)
class InstanceSpec:
    """What an instance process loads: sent to it as a dict."""

    kind: str  # "project" or "audiosep"
    path: str
    device: str
    dtype: str
    compile: bool
    threads: int
    cache_dir: str | None


def batch_ceiling(settings: Settings) -> int:
    """max_batch, or the most `auto` may choose."""
    return AUTO_BATCH_CEILING if settings.max_batch == "auto" else settings.max_batch


def cpu_candidates(cores: int, instances: int | str, threads: int | str) -> list[tuple[int, int]]:
    """(instances, threads) configurations to time on a CPU: the ones that fill the cores."""
    if instances != "auto" and threads != "auto":
        return [(instances, threads)]
    if instances != "auto":
        return [(instances, max(1, cores // instances))]
    if threads != "auto":
        return [(max(1, min(MAX_AUTO_INSTANCES, cores // threads)), threads)]
    widths = sorted({width for width in (1, 2, 4, 8, 16, 32, 64) if width <= cores} | {cores})
    return [(min(MAX_AUTO_INSTANCES, cores // width), width) for width in widths]  # narrowest first


def batch_for(rows: list[Measurement]) -> Measurement:
    """One configuration's batch size: the largest within BATCH_TOLERANCE of its best throughput (in
    the server every batch also pays a fixed cost the forward pass does not show: the hand-over,
    stacking, the event loop's share of the machine)."""
    best = max(row.chunk_audio_per_second for row in rows)
    return max(
        (row for row in rows if row.chunk_audio_per_second >= (1 - BATCH_TOLERANCE) * best), key=lambda r: r.batch
    )


def choose(table: list[Measurement]) -> Measurement:
    """The configuration with the best throughput, each at its own batch size (`batch_for`), but the
    fewest threads per instance unless more are WIDTH_MARGIN faster."""
    configurations: dict[tuple[int, int], list[Measurement]] = {}
    for row in table:
        configurations.setdefault((row.instances, row.threads), []).append(row)
    best = {key: batch_for(rows) for key, rows in configurations.items()}
    narrowest = min(best.values(), key=lambda row: (row.threads, -row.chunk_audio_per_second))
    fastest = max(best.values(), key=lambda row: row.chunk_audio_per_second)
    wins = fastest.chunk_audio_per_second > (1 + WIDTH_MARGIN) * narrowest.chunk_audio_per_second
    return fastest if wins else narrowest


def network_source(settings: Settings) -> tuple[str, str]:
    """(kind, path) of the network's weights the model setting names."""
    from model.separator import PRETRAINED

    if settings.model == "bundled":
        return "project", str(PRETRAINED["bundled"])
    if settings.model == "audiosep":
        return "audiosep", str(settings.audiosep_checkpoint)
    return "project", settings.model


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "its connection closed"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (" (out of memory, or killed by hand)" if name == "SIGKILL" else "")
    return f"exited with status {returncode}"


class Instance:
    """One model instance process, and the batcher's worker for it."""

    def __init__(
        self, name: str, spec: InstanceSpec, slot_shape: tuple[int, int, int], log_format: str, metrics: Metrics
    ):
        self.name, self.spec, self.log_format, self.metrics = name, spec, log_format, metrics
        self.capacity, self.batches, self.condition_size = slot_shape
        self.lost = False
        self.on_lost: Callable[[], None] = lambda: None
        self.warm_shapes: list[tuple[int, int]] = []
        self.process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._stopping = False
        # The slot outlives restarts: one memfd, mapped here once and by every process in turn.
        self._slot_fd = os.memfd_create(f"textsep-instance-{name}")
        os.ftruncate(self._slot_fd, Slot.bytes_for(self.capacity, self.batches, self.condition_size))
        self.slot = Slot(self._slot_fd, self.capacity, self.batches, self.condition_size)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the process and load the network in it (blocks until loaded)."""
        ours, theirs = socket.socketpair()
        arguments = [str(theirs.fileno()), str(self._slot_fd), str(self.capacity), str(self.batches),
                     str(self.condition_size), self.log_format]  # fmt: skip
        threads = str(self.spec.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        if self.spec.cache_dir:  # inductor's on-disk cache: a restarted instance loads what was compiled
            env["TORCHINDUCTOR_CACHE_DIR"] = self.spec.cache_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.instance", *arguments],
            pass_fds=(theirs.fileno(), self._slot_fd),
            cwd=ROOT,
            env=env,
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self._stopping = False
        threading.Thread(
            target=self._wait, args=(self.process,), name=f"instance-{self.name}-waiter", daemon=True
        ).start()
        self._call(("load", asdict(self.spec)))
        logger.info("instance %s: pid %d, %s, %d thread(s)", self.name, self.pid, self.spec.device, self.spec.threads)

    def set_threads(self, threads: int) -> None:
        self.spec = InstanceSpec(**{**asdict(self.spec), "threads": threads})
        self._call(("threads", threads))

    def warm(self, shapes: list[tuple[int, int]]) -> float:
        """One pass of each (batch, length): no request pays for a shape's first call (allocator
        growth, kernel choice, or compilation). Restarts warm the same shapes."""
        self.warm_shapes = shapes
        return self._call(("warm", shapes))[1]

    def recover(self) -> None:
        """A new process in place of the dead one, loaded and warmed as the first was."""
        self.metrics.instance_up.labels(self.name).set(0)
        self._end_process()
        started = time.monotonic()
        self.start()
        self.warm(self.warm_shapes)
        self.lost = False
        self.metrics.instance_restarts.labels(self.name).inc()
        self.metrics.instance_up.labels(self.name).set(1)
        logger.info("instance %s restarted in %.1f s (pid %d)", self.name, time.monotonic() - started, self.pid)

    def stop(self) -> None:
        self._stopping = True
        self._end_process()
        self.metrics.instance_up.labels(self.name).set(0)

    def _end_process(self) -> None:
        if self._connection is not None:
            try:
                self._connection.send(("exit",))
            except OSError:
                pass
            self._connection.close()
            self._connection = None
        if self.process is not None:
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait(self, process: subprocess.Popen) -> None:
        """The waiter thread: notices the process's death the moment it happens."""
        returncode = process.wait()
        if self._stopping or process is not self.process or self.lost:
            return
        logger.error("instance %s (pid %d) died: %s", self.name, process.pid, describe_exit(returncode))
        self._mark_lost()

    def _mark_lost(self) -> None:
        self.lost = True
        self.metrics.instance_up.labels(self.name).set(0)
        self.on_lost()

    # ---- talking to it ------------------------------------------------------------------------

    def ask(self, message: tuple) -> None:
        try:
            self._connection.send(message)
        except (OSError, AttributeError) as error:
            raise self._lost_error() from error

    def answer(self) -> tuple:
        try:
            reply = self._connection.recv()
        except (EOFError, OSError, AttributeError) as error:
            raise self._lost_error() from error
        if reply[0] == "failed":
            raise RuntimeError(f"instance {self.name}: {reply[1]}")
        return reply

    def _call(self, message: tuple) -> tuple:
        self.ask(message)
        return self.answer()

    def _lost_error(self) -> WorkerLost:
        returncode = None
        if self.process is not None:
            try:
                returncode = self.process.wait(1)
            except subprocess.TimeoutExpired:
                pass
        if not self.lost:
            self._mark_lost()
        return WorkerLost(f"instance {self.name} (pid {self.pid}) {describe_exit(returncode)}")

    def run(self, batch: Batch) -> torch.Tensor:
        """The batch through the process: stacked into the slot, run, read back from the slot. The
        result is a view of the slot: the batcher copies it out before this instance's next batch."""
        inputs, conditions, outputs = self.slot.views(len(batch), batch.length)
        batch.chunks(out=inputs)
        batch.conditions(out=conditions)
        self._call(("run", len(batch), batch.length))
        return outputs


class InstancePool:
    """Starts the instances the settings ask for, chooses how many and how wide, warms them up."""

    def __init__(self, settings: Settings, metrics: Metrics, *, window: int, short_lengths: list[int],
                 sample_rate: int, condition_size: int):  # fmt: skip
        self.settings, self.metrics = settings, metrics
        self.window, self.short_lengths, self.sample_rate = window, short_lengths, sample_rate
        self.condition_size = condition_size
        self.instances: list[Instance] = []
        self.choice: Choice | None = None

    @property
    def serving(self) -> bool:
        return any(not instance.lost for instance in self.instances)

    def start(self, on_lost: Callable[[], None]) -> Choice:
        settings = self.settings
        device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        compiled = settings.compile if settings.compile != "auto" else device.startswith("cuda")
        cores = len(os.sched_getaffinity(0))
        ceiling = batch_ceiling(settings)
        if device.startswith("cuda"):
            devices = [device] if ":" in device else [f"cuda:{i}" for i in range(max(1, torch.cuda.device_count()))]
            count = len(devices) if settings.instances == "auto" else settings.instances
            threads = max(1, cores // count) if settings.threads == "auto" else settings.threads
            candidates, how = [(count, threads)], "one per GPU" if settings.instances == "auto" else "set"
            devices = [devices[i % len(devices)] for i in range(count)]
        else:
            candidates = cpu_candidates(cores, settings.instances, settings.threads)
            how = "measured" if len(candidates) > 1 else "set"
            devices = ["cpu"] * max(count for count, _ in candidates)
        kind, path = network_source(settings)
        cache_dir = str(settings.compile_cache_dir) if compiled else None
        self.instances = [
            Instance(
                str(i),
                InstanceSpec(kind, path, devices[i], settings.dtype, compiled, candidates[0][1], cache_dir),
                (ceiling * self.window, ceiling, self.condition_size),
                settings.log_format,
                self.metrics,
            )
            for i in range(len(devices))
        ]
        for instance in self.instances:
            instance.on_lost = on_lost
        run_together([instance.start for instance in self.instances])  # they load in parallel

        table = self.measure(candidates, ceiling) if len(candidates) > 1 or settings.max_batch == "auto" else []
        if table:
            chosen = choose(table)
            count, threads, max_batch = chosen.instances, chosen.threads, chosen.batch
            log_table(table, chosen)
            if settings.max_batch == "auto" and how == "set":
                how = "batch measured"
        else:
            (count, threads), max_batch = candidates[0], settings.max_batch
        for extra in self.instances[count:]:
            extra.stop()
        self.instances = self.instances[:count]
        shapes = [(size, self.window) for size in range(1, max_batch + 1)]
        # shorter rows: the multiples of the grid stand for every length (eager costs no more for a new
        # length; compiled, the graphs are dynamic in it), at batch sizes 1, 2 and max_batch (dynamo
        # specialises batch 1, and splits a few size ranges)
        shapes += [
            (size, length) for length in self.short_lengths for size in sorted({1, min(2, max_batch), max_batch})
        ]
        started = time.monotonic()

        def prepare(instance: Instance) -> None:
            if instance.spec.threads != threads:
                instance.set_threads(threads)
            instance.warm(shapes)

        run_together([lambda instance=instance: prepare(instance) for instance in self.instances])
        logger.info("%d instance(s) warmed up on %d shapes in %.1f s", count, len(shapes), time.monotonic() - started)
        for instance in self.instances:
            self.metrics.instance_up.labels(instance.name).set(1)
        speed = next((row.chunk_audio_per_second for row in table if row[:3] == (count, threads, max_batch)), None)
        per_sample = count / (speed * self.sample_rate) if speed else 1e-4
        self.choice = Choice(
            count, threads, max_batch, compiled, how, [i.spec.device for i in self.instances], table, per_sample
        )
        self.metrics.instances.info(
            {
                "instances": str(count),
                "threads": str(threads),
                "max_batch": str(max_batch),
                "compiled": str(compiled).lower(),
                "how": how,
            }
        )
        return self.choice

    def measure(self, candidates: list[tuple[int, int]], ceiling: int) -> list[Measurement]:
        """Chunk audio per second of every candidate configuration at batch sizes 1, 2, 4, ... (while
        doubling pays; only the set one if max_batch is set), its instances running at once."""
        table = []
        fixed = self.settings.max_batch != "auto"
        for count, threads in candidates:
            running = self.instances[:count]
            for instance in running:
                if instance.spec.threads != threads:
                    instance.set_threads(threads)
            size, previous = (ceiling if fixed else 1), None
            while size <= ceiling:
                speed = self._best_round(running, size)
                table.append(Measurement(count, threads, size, speed))
                if fixed or (previous is not None and speed < previous / (1 - BATCH_TOLERANCE)):
                    break  # doubling no longer pays
                size, previous = size * 2, speed
        return table

    def _best_round(self, running: list[Instance], size: int) -> float:
        """The best of ROUNDS rounds, each PASSES passes on every running instance at once."""
        concurrent_passes(running, size, self.window, 1)  # untimed: the shape's first call
        best, began = 0.0, time.perf_counter()
        for _ in range(ROUNDS):
            if best and time.perf_counter() - began > ROUNDS_BUDGET_S:
                break
            seconds = concurrent_passes(running, size, self.window, PASSES)
            best = max(best, len(running) * PASSES * size * self.window / self.sample_rate / seconds)
        return best

    def close(self) -> None:
        for instance in self.instances:
            instance.stop()


def concurrent_passes(running: list[Instance], size: int, length: int, passes: int) -> float:
    """Wall seconds for every instance in `running` to run `passes` passes of [size, length] zeros, all at once."""
    started = time.perf_counter()
    for instance in running:
        instance.ask(("time", size, length, passes))
    for instance in running:
        instance.answer()
    return time.perf_counter() - started


def run_together(calls: list[Callable[[], None]]) -> None:
    """Run the calls in threads at once; raise the first error once all are done."""
    errors: list[BaseException] = []

    def guarded(call):
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def log_table(table: list[Measurement], chosen: Measurement) -> None:
    rows = "; ".join(f"{r.instances}x{r.threads} batch {r.batch}: {r.chunk_audio_per_second:.1f}" for r in table)
    logger.info(
        "chose %d instance(s) x %d thread(s), max_batch %d, from chunk audio s per s {%s}",
        chosen.instances, chosen.threads, chosen.batch, rows,
    )  # fmt: skip


class MeasuredConfiguration(BaseModel):
    instances: int
    threads: int
    batch: int
    chunk_audio_per_second: float = Field(description="All its instances together, best of the timed rounds.")


class InstanceState(BaseModel):
    name: str
    device: str
    pid: int | None
    serving: bool = Field(description="False while it restarts after its process died.")
    busy_seconds: float = Field(description="Time spent running batches since the server started.")
    restarts: int


class InstancesInfo(BaseModel):
    count: int = Field(description="Model instances (processes), each holding one copy of the network.")
    threads: int = Field(description="Torch intra-op threads per instance.")
    compiled: bool = Field(description="Whether the network runs through torch.compile.")
    chosen_by: str = Field(description="`measured` (TEXTSEP_INSTANCES/THREADS auto on a CPU), `set`, `one per GPU`.")
    measured: list[MeasuredConfiguration] = Field(description="The timings `auto` chose from (empty if nothing was).")
    each: list[InstanceState]


def describe(pool: InstancePool) -> InstancesInfo:
    """The choice and every instance's state, for /v1/info."""
    choice, registry = pool.choice, pool.metrics.registry

    def sample(name: str, instance: Instance) -> float:
        return registry.get_sample_value(name, {"instance": instance.name}) or 0.0

    return InstancesInfo(
        count=choice.instances,
        threads=choice.threads,
        compiled=choice.compiled,
        chosen_by=choice.how,
        measured=[MeasuredConfiguration(**row._asdict()) for row in choice.table],
        each=[
            InstanceState(
                name=instance.name,
                device=instance.spec.device,
                pid=instance.pid,
                serving=not instance.lost,
                busy_seconds=sample("textsep_instance_busy_seconds_total", instance),
                restarts=int(sample("textsep_instance_restarts_total", instance)),
            )
            for instance in pool.instances
        ],
    )

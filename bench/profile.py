"""Where a loaded server's time goes: py-spy samples of the live processes, by request-path stage.

py-spy samples every Python thread of the server and of its model instances (`--subprocesses`: the
event loop, the `to_thread` workers that decode, resample and encode, the threads that hand batches
to the instances, and the instances' forward passes) without stopping them (`--nonblocking`),
waiting threads included (`--idle`). Two views of one recording:
- the work: samples of threads that are not waiting, each under the first stage whose function is
  on its stack; what remains is the rest of the event loop (middleware, routing, asyncio itself);
- the instance threads' wall time (in the HTTP process): their instance running a batch, waiting
  for chunks, or between batches.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (stage, a frame that marks it as py-spy prints it: "function (file:line)")
STAGES = (
    ("model forward", "__call__ (model/network.py"),
    ("batcher bookkeeping", "_infer (service/batcher.py"),
    ("decode upload", "decode (service/audio.py"),
    ("resample in/out", "resample (model/plan.py"),
    ("resample in/out", "resample_into (model/plan.py"),
    ("overlap-add", "merge (model/chunking.py"),
    ("cut into chunks", "split (model/chunking.py"),
    ("encode answer", "encode (service/audio.py"),
    ("query embedding", "embed (model/separator.py"),
    ("parse multipart upload", "(starlette/formparsers.py"),
    ("HTTP protocol (h11)", "(h11/"),
)
EVENT_LOOP = "event loop: other (middleware, routing, asyncio)"
# A sample whose innermost frame is one of these is a thread waiting: the event loop for sockets, an
# idle `to_thread` worker, an instance thread for chunks or for its instance's answer, an instance
# for its next batch, an instance's waiter for its exit.
WAITS = (
    "EpollSelector.select (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "Condition.wait (threading.py",
    "Connection._recv (multiprocessing/connection.py",
    "Popen._try_wait (subprocess.py",  # an instance's waiter thread: it wakes when the process dies
)
INSTANCE_THREAD = "Batcher._serve (service/batcher.py"
HANDING_OVER = "Instance.run (service/instances.py"
COLLAPSED_FILE = "profile-collapsed.txt"


def py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    command = [py_spy(), "record", "--pid", str(pid), "--duration", str(round(seconds)), "--rate", "100"]
    command += ["--nonblocking", "--idle", "--subprocesses", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stage_of(stack: str) -> str:
    return next((stage for stage, frame in STAGES if frame in stack), EVENT_LOOP)


def samples(collapsed: str):
    """py-spy's collapsed stacks, "frame;frame;... count" per line -> (stack, count) pairs."""
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            yield stack, int(count)


def waiting(stack: str) -> bool:
    return stack.rpartition(";")[2].startswith(WAITS)


def stage_shares(collapsed: str) -> dict[str, float]:
    """{stage: share of the samples in which a thread was working}."""
    counts: Counter[str] = Counter()
    for stack, count in samples(collapsed):
        if not waiting(stack):
            counts[stage_of(stack)] += count
    total = sum(counts.values())
    stages = dict.fromkeys([*(stage for stage, _ in STAGES), EVENT_LOOP])
    return {stage: counts[stage] / total for stage in stages if counts[stage]}


def inference_thread_time(collapsed: str) -> dict[str, float]:
    """{activity: share of the instance threads' wall time}."""
    counts: Counter[str] = Counter()
    for stack, count in samples(collapsed):
        if INSTANCE_THREAD not in stack:
            continue
        if HANDING_OVER in stack and waiting(stack):
            counts["its instance running the batch"] += count
        elif waiting(stack):
            counts["waiting for chunks"] += count
        else:
            counts["between batches: forming, handing over, handing back"] += count
    total = sum(counts.values())
    return {activity: count / total for activity, count in counts.items()}

"""Chunk-level continuous batching: one scheduler feeds every model instance, and every request.

Each request arrives as rows of mono audio (a `Job` over `Rows`: a `SeparationPlan`, or plain
tensors), every row carrying its own query condition, so one forward pass can mix requests and
queries (and one request can ask several). Workers (the model instances, service/instances.py: one
thread each here, driving one process there) each take up to `max_batch` rows of one length, waiting
at most `max_wait` for a batch to fill, run it, and hand each result back to its request; the
request's asyncio future resolves once all its rows are done, and its `on_chunk` callback (in the
event loop) hears of each row as it lands. Callers use it through `service.separation.Separation`.

Which rows run next: earliest deadline first, one row per job per turn while the batch has room,
where a job's deadline is its arrival plus STRETCH times its work (the time it takes alone). Every
request is thus promised the same slowdown relative to its own size: a one-second clip overtakes the
long uploads queued before it, yet a long upload's deadline is fixed when it arrives, so newcomers
cannot starve it. (With a stretch of 1, any job that has waited longer than its own work goes before
every newcomer: under load that is first come, first served.) A batch holds rows of one length.

The queue is bounded in chunk audio seconds; a job that would overflow it is refused (the caller
answers 503), except into an empty queue, so a single upload is bounded by the upload limits alone.
A cancelled job's rows that have not run are dropped. Batches are not padded: the network is
batch-invariant in eval mode, so a row's result does not depend on what it was batched with, nor on
which instance ran it.

A worker whose process dies mid-batch raises `WorkerLost`: the batch's rows go back to the front of
their jobs, once; a row lost a second time fails its request with 503 `instance_lost`. The worker
then recovers (a new process) while the others serve on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from service.errors import ApiError
from service.metrics import Metrics

logger = logging.getLogger(__name__)

STRETCH = 10  # a job is due once it has waited this many times its own work
RETRY_AFTER_LOST_S = 5

SeparateChunks = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # [B, T], [B, D] -> [B, T]


class QueueFull(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the queue is full; retry in about {retry_after_s} s")
        self.retry_after_s = retry_after_s


class WorkerLost(Exception):
    """The worker's process died while it ran a batch; the message says how."""


class InstanceLost(ApiError):
    """A request's rows were lost with a dying model instance twice: 503, retry elsewhere or later."""

    def __init__(self, reason: str):
        super().__init__(
            503,
            "instance_lost",
            f"the model instance running this request died twice ({reason}); it is being restarted: retry",
            {"Retry-After": str(RETRY_AFTER_LOST_S)},
        )


class Rows(Protocol):
    """What a job runs: `SeparationPlan` is one."""

    lengths: Sequence[int]  # [n]: row i is lengths[i] samples long
    conditions: torch.Tensor  # [n, D]

    def __len__(self) -> int: ...

    def chunk(self, row: int) -> torch.Tensor: ...  # [lengths[row]]


class TensorRows:
    """Rows from a [n, W] tensor of chunks, and a condition [D] for all or [n, D] one each."""

    def __init__(self, chunks: torch.Tensor, conditions: torch.Tensor):
        self.chunks = chunks
        self.lengths = np.full(len(chunks), chunks.shape[-1])
        self.conditions = conditions.expand(len(chunks), -1)

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk(self, row: int) -> torch.Tensor:
        return self.chunks[row]


@dataclass(eq=False)
class Job:
    """One request's rows on their way through the batcher."""

    rows: Rows
    done: asyncio.Future  # resolves (to None) once every row is in `results`, or raises
    loop: asyncio.AbstractEventLoop
    on_chunk: Callable[[int], None] | None = None  # called in the loop with each row's index as it lands
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # its first row entered a batch
    finished_at: float | None = None
    next_row: int = 0  # rows before this one have been taken into batches ...
    retry: list[int] = field(default_factory=list)  # ... but for these, lost with an instance: taken first
    retried: set[int] = field(default_factory=set)  # rows lost once already
    finished_chunks: int = 0
    withdrawn: bool = False  # cancelled or failed: results still in flight are discarded
    results: torch.Tensor = field(init=False)  # [n, longest row]: row i's result in [i, :lengths[i]]
    samples: int = field(init=False)  # its work, in samples of model input

    def __post_init__(self) -> None:
        lengths = np.asarray(self.rows.lengths)
        self.results = torch.zeros(len(lengths), int(lengths.max()))
        self.samples = int(lengths.sum())

    @property
    def pending_chunks(self) -> int:
        return len(self.retry) + len(self.rows) - self.next_row

    @property
    def pending_samples(self) -> int:
        lengths = self.rows.lengths
        return int(sum(lengths[row] for row in self.retry) + np.sum(lengths[self.next_row :]))

    def peek(self) -> int:
        """The row it would run next."""
        return self.retry[0] if self.retry else self.next_row

    def take(self) -> int:
        if self.retry:
            return self.retry.pop(0)
        self.next_row += 1
        return self.next_row - 1

    @property
    def queue_seconds(self) -> float:
        return self.started_at - self.submitted_at

    @property
    def inference_seconds(self) -> float:
        return self.finished_at - self.started_at


@dataclass
class Batch:
    """Rows of one length from one or more jobs, for one forward pass."""

    items: list[tuple[Job, int]]  # (job, row)
    length: int

    def __len__(self) -> int:
        return len(self.items)

    def chunks(self, out: torch.Tensor | None = None) -> torch.Tensor:
        """[B, length]; into `out` (e.g. a shared-memory slot) if given."""
        return torch.stack([job.rows.chunk(row) for job, row in self.items], out=out)

    def conditions(self, out: torch.Tensor | None = None) -> torch.Tensor:
        """[B, D]; into `out` if given."""
        return torch.stack([job.rows.conditions[row] for job, row in self.items], out=out)


class Worker(Protocol):
    """Runs batches: a model instance (service/instances.py) or, in-process, a function."""

    name: str
    lost: bool  # its process died; `recover` before running more

    def run(self, batch: Batch) -> torch.Tensor: ...  # [B, length] on the CPU; raises WorkerLost

    def recover(self) -> None: ...  # blocks until it can run again


class FunctionWorker:
    """A worker that calls `separate(chunks [B, T], conditions [B, D]) -> [B, T]` in its thread."""

    lost = False

    def __init__(self, separate: SeparateChunks, name: str = "0"):
        self.separate, self.name = separate, name

    def run(self, batch: Batch) -> torch.Tensor:
        return self.separate(batch.chunks(), batch.conditions()).cpu()

    def recover(self) -> None:
        pass


class Batcher:
    def __init__(
        self,
        metrics: Metrics,
        *,
        max_batch: int,
        max_wait_seconds: float,
        sample_rate: int,
        max_queue_seconds: float,
        seconds_per_sample: float = 1e-4,
    ):
        self._metrics = metrics
        self.max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._sample_rate = sample_rate
        self._max_queue_seconds = max_queue_seconds
        self._queue: list[Job] = []  # jobs with rows not yet taken, in arrival order
        self._queued_chunks = 0
        self._queued_samples = 0
        self._lock = threading.Condition()
        self._stopping = False
        self._seconds_per_sample = seconds_per_sample  # of model input, one instance; measured by every batch
        self._workers: list[Worker] = []
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self, workers: Sequence[Worker]) -> None:
        """One thread per worker, each taking batches from the one queue."""
        self._workers = list(workers)
        for worker in self._workers:
            thread = threading.Thread(target=self._serve, args=(worker,), name=f"instance-{worker.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Finish every queued row, then end the workers' threads."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join()

    def wake(self) -> None:
        """A worker's state changed (it was lost): let its thread see it."""
        with self._lock:
            self._lock.notify_all()

    # ---- the request side (event loop thread) -------------------------------------------------

    def submit(self, rows: Rows, *, on_chunk: Callable[[int], None] | None = None) -> Job:
        """`on_chunk`: called in the event loop with each row's index as soon as its result is in
        `job.results`."""
        loop = asyncio.get_running_loop()
        job = Job(rows, loop.create_future(), loop, on_chunk)
        with self._lock:
            queued_after = (self._queued_samples + job.samples) / self._sample_rate
            if self._queued_samples and queued_after > self._max_queue_seconds:
                serving = max(1, sum(not worker.lost for worker in self._workers))
                raise QueueFull(math.ceil(self._queued_samples * self._seconds_per_sample / serving))
            self._queue.append(job)
            self._queued_chunks += len(rows)
            self._queued_samples += job.samples
            self._metrics.batcher_requests.inc()
            self._publish_queue_depth()
            self._lock.notify()
        return job

    def cancel(self, job: Job) -> None:
        """The client is gone: drop the job's rows that have not run yet."""
        with self._lock:
            if job.withdrawn or job.finished_chunks == len(job.rows):
                return
            self._metrics.dropped_chunks.inc(self._withdraw(job))

    # ---- the workers' threads -----------------------------------------------------------------

    def _serve(self, worker: Worker) -> None:
        while (batch := self._next_batch(worker)) is not None:
            if worker.lost:
                self._recover(worker)
            if batch:
                self._infer(worker, batch)

    def _recover(self, worker: Worker) -> None:
        while True:
            try:
                worker.recover()
                return
            except Exception:  # e.g. the model no longer loads: the others serve; try again soon
                logger.exception("instance %s could not be restarted; trying again in 5 s", worker.name)
                time.sleep(5)

    def _next_batch(self, worker: Worker) -> Batch | None:
        """Up to max_batch (job, row) pairs of one length, most urgent job first, one row per job per
        round; None once stopped and empty; an empty batch if the worker was lost meanwhile."""
        with self._lock:
            while not self._queue:
                if self._stopping:
                    return None
                if worker.lost:
                    return Batch([], 0)
                self._lock.wait()
            deadline = time.monotonic() + self._max_wait
            while self._queued_chunks < self.max_batch and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            if worker.lost or not self._queue:  # lost, or another worker took the queue meanwhile
                return Batch([], 0)
            by_urgency = sorted(self._queue, key=self._deadline)
            first = by_urgency[0]
            length = int(first.rows.lengths[first.peek()])
            takers = [job for job in by_urgency if job.rows.lengths[job.peek()] == length]
            items = []
            while takers and len(items) < self.max_batch:
                for job in takers[: self.max_batch - len(items)]:
                    items.append((job, job.take()))
                    if not job.pending_chunks:
                        self._queue.remove(job)
                takers = [job for job in takers if job.pending_chunks and job.rows.lengths[job.peek()] == length]
            self._queued_chunks -= len(items)
            self._queued_samples -= len(items) * length
            self._publish_queue_depth()
            return Batch(items, length)

    def _deadline(self, job: Job) -> float:
        return job.submitted_at + STRETCH * job.samples * self._seconds_per_sample

    def _infer(self, worker: Worker, batch: Batch) -> None:
        started = time.monotonic()
        for job, _ in batch.items:
            if job.started_at is None:
                job.started_at = started
                self._metrics.queue_wait.observe(started - job.submitted_at)
        try:
            separated = worker.run(batch)  # [B, length]
        except WorkerLost as lost:
            logger.error(
                "instance %s died running %d rows: %s; they go back to the queue", worker.name, len(batch), lost
            )
            self._requeue(batch, str(lost))
            return
        except Exception as error:  # e.g. out of memory: fail these requests, keep serving the rest
            logger.exception("inference failed for a batch of %d rows", len(batch))
            with self._lock:
                for job in {job: None for job, _ in batch.items}:
                    if not job.withdrawn:
                        self._withdraw(job)
                        job.loop.call_soon_threadsafe(_settle, job.done, None, error)
            return
        elapsed = time.monotonic() - started
        self._seconds_per_sample = elapsed / (len(batch) * batch.length)
        self._metrics.batch_size.observe(len(batch))
        self._metrics.chunk_audio_seconds.inc(len(batch) * batch.length / self._sample_rate)
        self._metrics.instance_busy_seconds.labels(worker.name).inc(elapsed)
        with self._lock:
            for row_result, (job, row) in zip(separated, batch.items):
                if job.withdrawn:
                    continue
                job.results[row, : batch.length] = row_result
                job.finished_chunks += 1
                if job.on_chunk is not None:
                    job.loop.call_soon_threadsafe(job.on_chunk, row)
                if job.finished_chunks == len(job.rows):
                    job.finished_at = time.monotonic()
                    self._metrics.batcher_requests.dec()
                    job.loop.call_soon_threadsafe(_settle, job.done, None, None)

    def _requeue(self, batch: Batch, reason: str) -> None:
        """A lost batch's rows back to the front of their jobs, once; a second loss fails the job."""
        with self._lock:
            for job, row in batch.items:
                if job.withdrawn:
                    continue
                if row in job.retried:
                    self._withdraw(job)
                    job.loop.call_soon_threadsafe(_settle, job.done, None, InstanceLost(reason))
                    continue
                if not job.pending_chunks:
                    self._queue.append(job)
                job.retried.add(row)
                job.retry.append(row)
                self._queued_chunks += 1
                self._queued_samples += batch.length
                self._metrics.requeued_chunks.inc()
            self._publish_queue_depth()
            self._lock.notify_all()

    # ---- shared bookkeeping (call with the lock held) -----------------------------------------

    def _withdraw(self, job: Job) -> int:
        """Take the job out of the batcher; returns how many of its rows had not run yet."""
        job.withdrawn = True
        dropped = job.pending_chunks
        if dropped:
            self._queue.remove(job)
            self._queued_chunks -= dropped
            self._queued_samples -= job.pending_samples
            self._publish_queue_depth()
        self._metrics.batcher_requests.dec()
        return dropped

    def _publish_queue_depth(self) -> None:
        self._metrics.queue_chunks.set(self._queued_chunks)
        self._metrics.queue_seconds.set(self._queued_samples / self._sample_rate)


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():  # the request gave up waiting
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

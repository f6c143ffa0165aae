"""Chunk-level continuous batching: one inference thread per device serves every request.

Each request arrives as fixed-size mono chunks (a `Job`), every chunk carrying its request's query
embedding, so one forward pass can mix requests and queries. The thread takes up to `max_batch`
chunks, waiting at most `max_wait` for a batch to fill, and hands each result back to its request;
the request's asyncio future resolves once all its chunks are done.

Jobs are served round-robin, one chunk per job per turn: a ten-minute upload and a one-second clip
submitted together share the next batch instead of the clip waiting behind every chunk of the long
one. The queue is bounded in chunk audio seconds; a job that would overflow it is refused (the
caller answers 503), except into an empty queue, so a single upload is bounded by the upload
limits alone. Batches are not padded: the network is batch-invariant in eval mode, so a chunk's
result does not depend on what it was batched with.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from service.metrics import Metrics

logger = logging.getLogger(__name__)

SeparateChunks = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # [B, T], [B, D] -> [B, T]


class QueueFull(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the queue is full; retry in about {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(eq=False)
class Job:
    """One request's chunks on their way through the batcher."""

    chunks: torch.Tensor  # [n, window] mono chunks at the model rate
    embedding: torch.Tensor  # [D] the request's query condition
    done: asyncio.Future  # resolves to the [n, window] separated chunks
    loop: asyncio.AbstractEventLoop
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # its first chunk entered a batch
    finished_at: float | None = None
    next_chunk: int = 0  # chunks before this one have been taken into batches
    finished_chunks: int = 0
    withdrawn: bool = False  # cancelled or failed: results still in flight are discarded
    results: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.results = torch.empty_like(self.chunks)

    @property
    def pending_chunks(self) -> int:
        return len(self.chunks) - self.next_chunk

    @property
    def queue_seconds(self) -> float:
        return self.started_at - self.submitted_at

    @property
    def inference_seconds(self) -> float:
        return self.finished_at - self.started_at


class Batcher:
    def __init__(
        self,
        separate_chunks: SeparateChunks,
        metrics: Metrics,
        *,
        max_batch: int,
        max_wait_seconds: float,
        chunk_seconds: float,
        max_queue_seconds: float,
    ):
        self._separate = separate_chunks
        self._metrics = metrics
        self.max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._chunk_seconds = chunk_seconds
        self._max_queue_seconds = max_queue_seconds
        self._queue: deque[Job] = deque()  # jobs with chunks not yet taken, in round-robin order
        self._queued_chunks = 0
        self._lock = threading.Condition()
        self._stopping = False
        self._seconds_per_chunk = 1.0  # measured by warm_up and every batch; drives Retry-After
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)

    # ---- lifecycle ----------------------------------------------------------------------------

    def warm_up(self, window: int, embedding: torch.Tensor) -> None:
        """One forward pass at every batch size the loop can form, so that no request pays for
        first-call costs (allocator growth, kernel selection) of a new shape."""
        for size in range(1, self.max_batch + 1):
            start = time.monotonic()
            self._separate(torch.zeros(size, window), embedding.expand(size, -1))
            self._seconds_per_chunk = (time.monotonic() - start) / size

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish every queued chunk, then end the inference thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    # ---- the request side (event loop thread) -------------------------------------------------

    def submit(self, chunks: torch.Tensor, embedding: torch.Tensor) -> Job:
        loop = asyncio.get_running_loop()
        job = Job(chunks, embedding, loop.create_future(), loop)
        with self._lock:
            queued_after = (self._queued_chunks + len(chunks)) * self._chunk_seconds
            if self._queued_chunks and queued_after > self._max_queue_seconds:
                raise QueueFull(math.ceil(self._queued_chunks * self._seconds_per_chunk))
            self._queue.append(job)
            self._queued_chunks += len(chunks)
            self._metrics.batcher_requests.inc()
            self._publish_queue_depth()
            self._lock.notify()
        return job

    def cancel(self, job: Job) -> None:
        """The client is gone: drop the job's chunks that have not run yet."""
        with self._lock:
            if job.withdrawn or job.finished_chunks == len(job.chunks):
                return
            self._metrics.dropped_chunks.inc(self._withdraw(job))

    # ---- the inference thread -----------------------------------------------------------------

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            if batch:
                self._infer(batch)

    def _next_batch(self) -> list[tuple[Job, int]] | None:
        """Up to max_batch (job, chunk index) pairs, one per job per round; None once stopped and empty."""
        with self._lock:
            while not self._queue:
                if self._stopping:
                    return None
                self._lock.wait()
            deadline = time.monotonic() + self._max_wait
            while self._queued_chunks < self.max_batch and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            batch = []
            while self._queue and len(batch) < self.max_batch:
                job = self._queue.popleft()
                batch.append((job, job.next_chunk))
                job.next_chunk += 1
                if job.pending_chunks:
                    self._queue.append(job)  # back of the line: every other job gets a turn first
            self._queued_chunks -= len(batch)
            self._publish_queue_depth()
            return batch

    def _infer(self, batch: list[tuple[Job, int]]) -> None:
        started = time.monotonic()
        for job, _ in batch:
            if job.started_at is None:
                job.started_at = started
                self._metrics.queue_wait.observe(started - job.submitted_at)
        chunks = torch.stack([job.chunks[index] for job, index in batch])
        conditions = torch.stack([job.embedding for job, _ in batch])
        try:
            separated = self._separate(chunks, conditions).cpu()
        except Exception as error:  # e.g. out of memory: fail these requests, keep serving the rest
            logger.exception("inference failed for a batch of %d chunks", len(batch))
            with self._lock:
                for job in {job: None for job, _ in batch}:
                    if not job.withdrawn:
                        self._withdraw(job)
                        job.loop.call_soon_threadsafe(_settle, job.done, None, error)
            return
        self._seconds_per_chunk = (time.monotonic() - started) / len(batch)
        self._metrics.batch_size.observe(len(batch))
        with self._lock:
            for row, (job, index) in zip(separated, batch):
                if job.withdrawn:
                    continue
                job.results[index] = row
                job.finished_chunks += 1
                if job.finished_chunks == len(job.chunks):
                    job.finished_at = time.monotonic()
                    self._metrics.batcher_requests.dec()
                    job.loop.call_soon_threadsafe(_settle, job.done, job.results, None)

    # ---- shared bookkeeping (call with the lock held) -----------------------------------------

    def _withdraw(self, job: Job) -> int:
        """Take the job out of the batcher; returns how many of its chunks had not run yet."""
        job.withdrawn = True
        dropped = job.pending_chunks
        if dropped:
            self._queue.remove(job)
            self._queued_chunks -= dropped
            self._publish_queue_depth()
        self._metrics.batcher_requests.dec()
        return dropped

    def _publish_queue_depth(self) -> None:
        self._metrics.queue_chunks.set(self._queued_chunks)
        self._metrics.queue_seconds.set(self._queued_chunks * self._chunk_seconds)


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():  # the request gave up waiting
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

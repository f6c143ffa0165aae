"""Chunk-level continuous batching: one inference thread per device serves every request.

Each request arrives as fixed-size mono chunks (a `Job`), every chunk carrying its own query
embedding, so one forward pass can mix requests and queries (and one request can ask several). The
thread takes up to `max_batch` chunks, waiting at most `max_wait` for a batch to fill, and hands each
result back to its request; the request's asyncio future resolves once all its chunks are done, and
its `on_chunk` callback (in the event loop) hears of each chunk as it lands. Callers use it through
`service.separation.Separation`, not directly.

Which chunks run next: earliest deadline first, one chunk per job per turn while the batch has
room, where a job's deadline is its arrival plus STRETCH times its work (the time it takes alone).
Every request is thus promised the same slowdown relative to its own size: a one-second clip
overtakes the long uploads queued before it, yet a long upload's deadline is fixed when it
arrives, so newcomers cannot starve it. (With a stretch of 1, any job that has waited longer than
its own work goes before every newcomer: under load that is first come, first served.) A batch
holds chunks of one length (short clips get short windows, see `Chunking.window_for`).

The queue is bounded in chunk audio seconds; a job that would overflow it is refused (the caller
answers 503), except into an empty queue, so a single upload is bounded by the upload limits alone.
Batches are not padded: the network is batch-invariant in eval mode, so a chunk's result does not
depend on what it was batched with.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from service.metrics import Metrics

logger = logging.getLogger(__name__)

STRETCH = 10  # a job is due once it has waited this many times its own work

SeparateChunks = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # [B, T], [B, D] -> [B, T]


class QueueFull(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the queue is full; retry in about {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(eq=False)
class Job:
    """One request's chunks on their way through the batcher."""

    chunks: torch.Tensor  # [n, window] mono chunks at the model rate
    conditions: torch.Tensor  # [n, D] each chunk's query condition
    done: asyncio.Future  # resolves to the [n, window] separated chunks
    loop: asyncio.AbstractEventLoop
    on_chunk: Callable[[int], None] | None = None  # called in the loop with each chunk's index as it lands
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
    def chunk_length(self) -> int:
        return self.chunks.shape[-1]

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
        sample_rate: int,
        max_queue_seconds: float,
    ):
        self._separate = separate_chunks
        self._metrics = metrics
        self.max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._sample_rate = sample_rate
        self._max_queue_seconds = max_queue_seconds
        self._queue: list[Job] = []  # jobs with chunks not yet taken, in arrival order
        self._queued_chunks = 0
        self._queued_samples = 0
        self._lock = threading.Condition()
        self._stopping = False
        self._seconds_per_sample = 1e-4  # of model input; measured by warm_up and every batch
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)

    # ---- lifecycle ----------------------------------------------------------------------------

    def warm_up(self, lengths: list[int], embedding: torch.Tensor, choose_batch: bool = False) -> None:
        """A forward pass at every shape the loop can form, so that no request pays for first-call
        costs (allocator growth, kernel selection) of a new shape: every batch size at the full
        window `lengths[0]`, sizes 1 and max_batch at the shorter lengths.

        With `choose_batch`, max_batch is first set from timings of batch sizes 1, 2, 4, ... up
        to max_batch, doubling while that pays: the largest size within 5% of the best seconds per
        chunk (in the server every batch also pays a fixed cost the forward pass does not show: the
        hand-over between threads, stacking, the event loop's share of the GIL). On a CPU that is
        usually 1 or 2; on a GPU, where per-chunk time falls with batch size, it climbs until the
        gains stop."""
        if choose_batch:
            per_chunk = {}
            size = 1
            while size <= self.max_batch:
                per_chunk[size] = min(self._time_pass(lengths[0], size, embedding) for _ in range(2)) / size
                if size > 1 and per_chunk[size] > 0.95 * per_chunk[size // 2]:
                    break  # doubling no longer pays
                size *= 2
            best = min(per_chunk.values())
            self.max_batch = max(size for size, seconds in per_chunk.items() if seconds <= 1.05 * best)
            timings = ", ".join(f"{size}: {seconds * 1000:.1f}" for size, seconds in per_chunk.items())
            logger.info("max_batch=%d chosen from ms per chunk by batch size {%s}", self.max_batch, timings)
        for size in range(1, self.max_batch + 1):
            self._time_pass(lengths[0], size, embedding)
        for length in lengths[1:]:
            for size in sorted({1, self.max_batch}):
                self._time_pass(length, size, embedding)

    def _time_pass(self, length: int, size: int, embedding: torch.Tensor) -> float:
        start = time.monotonic()
        self._separate(torch.zeros(size, length), embedding.expand(size, -1))
        elapsed = time.monotonic() - start
        self._seconds_per_sample = elapsed / (size * length)
        return elapsed

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

    def submit(
        self, chunks: torch.Tensor, condition: torch.Tensor, *, on_chunk: Callable[[int], None] | None = None
    ) -> Job:
        """`condition`: [D] for every chunk, or [n, D] one per chunk. `on_chunk`: called in the
        event loop with each chunk's index as soon as its result is in `job.results`."""
        loop = asyncio.get_running_loop()
        job = Job(chunks, condition.expand(len(chunks), -1), loop.create_future(), loop, on_chunk)
        with self._lock:
            queued_after = (self._queued_samples + chunks.numel()) / self._sample_rate
            if self._queued_samples and queued_after > self._max_queue_seconds:
                raise QueueFull(math.ceil(self._queued_samples * self._seconds_per_sample))
            self._queue.append(job)
            self._queued_chunks += len(chunks)
            self._queued_samples += chunks.numel()
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
        """Up to max_batch (job, chunk index) pairs of one chunk length, most urgent job first, one
        chunk per job per round; None once stopped and empty."""
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
            by_urgency = sorted(self._queue, key=self._deadline)
            length = by_urgency[0].chunk_length
            takers = [job for job in by_urgency if job.chunk_length == length]
            batch = []
            while takers and len(batch) < self.max_batch:
                for job in takers[: self.max_batch - len(batch)]:
                    batch.append((job, job.next_chunk))
                    job.next_chunk += 1
                    if not job.pending_chunks:
                        self._queue.remove(job)
                takers = [job for job in takers if job.pending_chunks]
            self._queued_chunks -= len(batch)
            self._queued_samples -= len(batch) * length
            self._publish_queue_depth()
            return batch

    def _deadline(self, job: Job) -> float:
        return job.submitted_at + STRETCH * job.chunks.numel() * self._seconds_per_sample

    def _infer(self, batch: list[tuple[Job, int]]) -> None:
        started = time.monotonic()
        for job, _ in batch:
            if job.started_at is None:
                job.started_at = started
                self._metrics.queue_wait.observe(started - job.submitted_at)
        chunks = torch.stack([job.chunks[index] for job, index in batch])
        conditions = torch.stack([job.conditions[index] for job, index in batch])
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
        self._seconds_per_sample = (time.monotonic() - started) / chunks.numel()
        self._metrics.batch_size.observe(len(batch))
        self._metrics.chunk_audio_seconds.inc(chunks.numel() / self._sample_rate)
        with self._lock:
            for row, (job, index) in zip(separated, batch):
                if job.withdrawn:
                    continue
                job.results[index] = row
                job.finished_chunks += 1
                if job.on_chunk is not None:
                    job.loop.call_soon_threadsafe(job.on_chunk, index)
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
            self._queued_samples -= dropped * job.chunk_length
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

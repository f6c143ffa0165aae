"""A separation plan run through the batcher, for an async caller: the one object the /separate
handler, the streamed answer and the CLI use.

    separation = Separation(batcher, plan, progress=...)   # queued at once (QueueFull if no room)
    stems = await separation.result()                       # `plan.finish`ed, in a worker thread
    async for samples in separation.pieces(): ...           # or: a stream, [C, k] at the input rate
    separation.cancel()                                     # the caller left: drop what has not run

The plan (model/plan.py) owns the arrays; this object owns the waiting: which rows have landed,
errors from the model instances, and cancellation. Callers never see the batcher's job, nor which
instance ran which row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np

from model.plan import SeparationPlan, Stems
from service.batcher import Batcher

Progress = Callable[[int, int], None]  # (chunks done, chunks in all), called in the event loop


class Separation:
    def __init__(self, batcher: Batcher, plan: SeparationPlan, progress: Progress | None = None):
        self.plan = plan
        self._batcher = batcher
        self._progress = progress
        self._landed = np.zeros(len(plan), dtype=bool)
        self._changed = asyncio.Event()  # set when a chunk lands or the job ends (also by an error)
        self.finish_seconds = 0.0
        self._job = batcher.submit(plan, on_chunk=self._on_chunk)
        self._job.done.add_done_callback(lambda _: self._changed.set())

    def _on_chunk(self, index: int) -> None:
        self._landed[index] = True
        self._changed.set()
        if self._progress is not None:
            self._progress(int(self._landed.sum()), len(self._landed))

    @property
    def stages(self) -> dict[str, float]:
        """Seconds this separation spent queued, in inference and finishing (once it has)."""
        return {"queue": self._job.queue_seconds, "inference": self._job.inference_seconds, "finish": self.finish_seconds}

    async def result(self) -> Stems:
        """Every chunk separated, then the plan finished into stems. Raises what inference raised."""
        await self._job.done
        separated, self._job.results = self._job.results, None  # held here alone: freed once finished
        self.plan.release()  # every row has run: the input at the model rate can go before the answer is made
        started = asyncio.get_running_loop().time()
        stems = await asyncio.to_thread(self.plan.finish, separated)
        self.finish_seconds = asyncio.get_running_loop().time() - started
        return stems

    async def pieces(self) -> AsyncIterator[np.ndarray]:
        """The answer of a one-query plan as it becomes final: [C, k] samples at the input's rate, in
        order, joining to `result()`'s stem exactly. Raises what inference raised, where it raised."""
        stream = self.plan.stream()
        try:
            for window in range(stream.windows):
                rows = stream.rows(window)
                while not self._landed[rows].all():
                    if self._job.done.done():
                        self._job.done.result()  # raises the batch's error; else every row has landed
                    self._changed.clear()
                    await self._changed.wait()
                yield await asyncio.to_thread(stream.push, self._job.results[rows])
        finally:  # a no-op once every chunk ran; if the consumer stopped early, drop the rest
            self.cancel()

    def cancel(self) -> None:
        """Drop the chunks that have not run yet (the caller is gone)."""
        self._batcher.cancel(self._job)

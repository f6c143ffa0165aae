"""The model alone, the way the service runs it: instance processes in a tight loop.

    loop = InstanceLoop(cores=2, compiled=False)      # one process per core, loaded once
    loop.measure(batch_sizes=[1, 2], rounds=5)       # every instances x threads filling the cores
    loop.close()

The processes are the service's own (`service.instances.Instance`: the same network, threads and
shared-memory slot); nothing but forward passes runs in them here. A configuration's instances run
their passes at once, and its speed is the median of `rounds` rounds (the service's figures are
sustained ones, so the limit they are held to is too): chunk audio seconds per second, all its
instances together. Compiled, the first pass of each shape compiles (from the on-disk cache if an
earlier run filled it).
"""

from __future__ import annotations

import os
import statistics

from service.instances import (
    Instance,
    InstanceSpec,
    Measurement,
    concurrent_passes,
    cpu_candidates,
    network_source,
    run_together,
)
from service.metrics import Metrics
from service.settings import Settings

MAX_BATCH = 8  # the largest batch the bench times on a CPU


class InstanceLoop:
    def __init__(self, cores: int | None = None, compiled: bool = False, passes: int = 2):
        settings = Settings()
        self.cores = cores or len(os.sched_getaffinity(0))
        self.compiled, self.passes = compiled, passes
        from model.separator import Separator

        separator = Separator.from_pretrained("bundled", device="cpu")
        self.window, self.sample_rate = separator.chunking.window, separator.sample_rate
        kind, path = network_source(settings)
        cache_dir = str(settings.compile_cache_dir) if compiled else None
        spec = InstanceSpec(kind, path, "cpu", "float32", compiled, 1, cache_dir)
        shape = (MAX_BATCH * self.window, MAX_BATCH, separator.model.config.condition_size)
        self.instances = [Instance(f"bench-{i}", spec, shape, "text", Metrics(1)) for i in range(self.cores)]
        run_together([instance.start for instance in self.instances])
        self._warm: set[tuple[int, int]] = set()

    @property
    def configurations(self) -> list[tuple[int, int]]:
        return cpu_candidates(self.cores, "auto", "auto")

    def measure(self, batch_sizes: list[int], rounds: int) -> list[Measurement]:
        table = []
        for count, threads in self.configurations:
            running = self.instances[:count]
            for instance in running:
                if instance.spec.threads != threads:
                    instance.set_threads(threads)
            for size in batch_sizes:
                table.append(Measurement(count, threads, size, self._median(running, size, rounds)))
        return table

    def best_by_batch(self, batch_sizes: list[int], rounds: int) -> dict[int, float]:
        """{batch size: the best configuration's chunk audio s per s at it}."""
        table = self.measure(batch_sizes, rounds)
        return {size: max(row.chunk_audio_per_second for row in table if row.batch == size) for size in batch_sizes}

    def _median(self, running: list[Instance], size: int, rounds: int) -> float:
        concurrent_passes(running, size, self.window, 1)  # untimed: the shape's first call (compiled: its compilation)
        audio = len(running) * self.passes * size * self.window / self.sample_rate
        return statistics.median(
            audio / concurrent_passes(running, size, self.window, self.passes) for _ in range(rounds)
        )

    def close(self) -> None:
        for instance in self.instances:
            instance.stop()

    def __enter__(self) -> InstanceLoop:
        return self

    def __exit__(self, *error) -> None:
        self.close()

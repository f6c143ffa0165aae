"""The query-embedding cache: what a request pays for its query, on a hit and on a miss.

Timed through the service's own `EmbeddingCache` in front of a separator's text encoder, so the
numbers include what the service adds (trimming the text, the LRU, the coalescing pause of a
miss). The encoder call alone is timed too.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.workload import QUERIES
from model.separator import Separator
from service.cache import EmbeddingCache
from service.metrics import Metrics


def median_seconds(call, times: int) -> float:
    samples = []
    for i in range(times):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cache_timings(separator: Separator, misses: int, hits: int) -> dict:
    """Median seconds of: the encoder on one query, a cache miss, a cache hit."""

    async def measure() -> dict:
        cache = EmbeddingCache(separator.embed, separator.encoder.name, size=4 * misses, metrics=Metrics(1))
        loop = asyncio.get_running_loop()

        async def timed(query: str) -> float:
            start = loop.time()
            await cache.get(query)
            return loop.time() - start

        fresh = [f"{QUERIES[i % len(QUERIES)]} number {i}" for i in range(misses)]  # never seen: misses
        miss = statistics.median([await timed(query) for query in fresh])
        hit = statistics.median([await timed(fresh[i % misses]) for i in range(hits)])
        return {"miss_s": miss, "hit_s": hit}

    encoder = median_seconds(lambda i: separator.embed([f"{QUERIES[i % len(QUERIES)]} call {i}"]), misses)
    return {"encoder": separator.encoder.name, "encode_s": encoder, **asyncio.run(measure())}

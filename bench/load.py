"""The load generator: N closed-loop clients over real HTTP (httpx on asyncio).

Each client sends the next clip of the shared, seeded sequence as soon as its previous answer is in,
as a waiting user would; a 503 is followed by the pause its Retry-After asks for. A level runs a
warm-up (not counted: the queue and the batches settle), then a measured window bracketed by two
/metrics scrapes; the answers that arrive inside the window are counted, and the server-side numbers
(chunks run, batch sizes, CPU time) are the difference between the two scrapes, so both describe the
same seconds. At the end the clients hang up, and the server drops their queued chunks.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

import httpx
import numpy as np

from bench.procfs import cpu_seconds
from bench.server import Samples, batch_size_counts, parse_metrics
from bench.workload import Clip
from service.record import parse_server_timing

REQUEST_TIMEOUT_S = 600.0


@dataclass
class Answer:
    seconds: float  # the clip's length
    short: bool
    status: int  # 0: the connection failed
    latency: float
    finished: float  # time.monotonic()
    stages: dict[str, float]  # Server-Timing, in seconds
    cache_hit: bool
    retry_after: float = 0.0  # what a 503 asked for


@dataclass
class Snapshot:
    """One moment of the run: the server's metrics, and the CPU time its process and ours have used."""

    at: float
    metrics: Samples
    server_cpu: float
    client_cpu: float  # the load generator shares the machine's cores with the server


async def post(client: httpx.AsyncClient, clip: Clip) -> Answer:
    start = time.monotonic()
    try:
        response = await client.post("/separate", files={"file": ("clip.wav", clip.wav)}, data={"query": clip.query})
    except httpx.TransportError:
        failed = time.monotonic()
        return Answer(clip.seconds, clip.short, 0, failed - start, failed, {}, False)
    finished = time.monotonic()
    return Answer(
        clip.seconds,
        clip.short,
        response.status_code,
        finished - start,
        finished,
        parse_server_timing(response.headers.get("server-timing", "")),
        response.headers.get("x-embedding-cache") == "hit",
        float(response.headers.get("retry-after", 0)),
    )


async def snapshot(client: httpx.AsyncClient, pid: int) -> Snapshot:
    metrics = parse_metrics((await client.get("/metrics")).text)
    return Snapshot(time.monotonic(), metrics, cpu_seconds(pid), time.process_time())


async def closed_loop(
    url: str, pid: int, clips: list[Clip], concurrency: int, warmup_s: float, window_s: float
) -> tuple[list[Answer], Snapshot, Snapshot]:
    """Every answer, and the server at the start and end of the measured window."""
    sequence = itertools.cycle(clips)  # shared, so every level replays the same mix in the same order
    answers: list[Answer] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while True:
            answer = await post(client, next(sequence))
            answers.append(answer)
            await asyncio.sleep(answer.retry_after)

    # Scrapes go through their own connection: the clients' pool is busy by design.
    async with (
        httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client,
        httpx.AsyncClient(base_url=url, timeout=30) as scraper,
    ):
        clients = [asyncio.create_task(client_loop(client)) for _ in range(concurrency)]
        await asyncio.sleep(warmup_s)
        before = await snapshot(scraper, pid)
        await asyncio.sleep(window_s)
        after = await snapshot(scraper, pid)
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return answers, before, after


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarize(concurrency: int, answers: list[Answer], before: Snapshot, after: Snapshot) -> dict:
    window = after.at - before.at
    inside = [a for a in answers if before.at <= a.finished <= after.at]
    ok = [a for a in inside if a.status == 200]
    short = [a.latency for a in ok if a.short]
    chunks_run = after.metrics["textsep_batch_size_sum"][()] - before.metrics["textsep_batch_size_sum"][()]
    chunk_audio = (
        after.metrics["textsep_chunk_audio_seconds_total"][()] - before.metrics["textsep_chunk_audio_seconds_total"][()]
    )
    batches = batch_size_counts(before.metrics, after.metrics)
    hits = [a for a in ok if a.cache_hit and "embed" in a.stages]
    return {
        "concurrency": concurrency,
        "window_s": window,
        "answered": len(ok),
        "rejected": sum(a.status == 503 for a in inside),
        "failed": sum(a.status not in (200, 503) for a in inside),
        "throughput": sum(a.seconds for a in ok) / window,  # uploaded audio seconds per second
        "chunk_throughput": chunk_audio / window,  # model work, in the limit's unit
        "latency": {f"p{q}": percentile([a.latency for a in ok], q) for q in (50, 95, 99)},
        "short_clips": len(short),
        "short_latency": {f"p{q}": percentile(short, q) for q in (50, 95, 99)},
        "batch_sizes": batches,
        "mean_batch": chunks_run / max(1, sum(batches.values())),
        "cached_embed_s": percentile([a.stages["embed"] for a in hits], 50),
        "cached_embed_share": percentile([a.stages["embed"] / a.latency for a in hits], 50),
        "server_cpu_cores": (after.server_cpu - before.server_cpu) / window,
        "client_cpu_cores": (after.client_cpu - before.client_cpu) / window,
    }


def run_level(url: str, pid: int, clips: list[Clip], concurrency: int, warmup_s: float, window_s: float) -> dict:
    """One concurrency level against a ready server; the summary of its measured window."""
    answers, before, after = asyncio.run(closed_loop(url, pid, clips, concurrency, warmup_s, window_s))
    return summarize(concurrency, answers, before, after)

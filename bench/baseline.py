"""The obvious alternative: the library, one file at a time, in-process, as a user calls it.

Per file, `Separator.separate` with its defaults (torch's own threads, chunked windows in batches of
4, the query encoded every call: no cache), between decoding the upload and writing the answer as
16-bit WAV at the upload's rate, just as the service answers. Files are processed one after the
other: what a user gets without the service.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import soundfile as sf

from bench.workload import Clip, mix_seconds
from model.separator import Separator


@dataclass
class BaselineResult:
    audio_seconds: float
    wall_seconds: float
    text_seconds: float  # of which: encoding the query text
    clip_seconds: list[float]  # per file: its length ...
    latencies: list[float]  # ... and the time it took

    @property
    def throughput(self) -> float:
        """Audio seconds separated per second."""
        return self.audio_seconds / self.wall_seconds


def separate_one(separator: Separator, clip: Clip) -> bytes:
    """The separated file."""
    samples, rate = sf.read(io.BytesIO(clip.wav), dtype="float32", always_2d=True)
    separated = separator.separate(samples.T, rate, clip.query)
    buffer = io.BytesIO()
    sf.write(buffer, separated.T, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def one_at_a_time(separator: Separator, clips: list[Clip]) -> BaselineResult:
    separate_one(separator, clips[0])  # warm-up, as the service warms up before it turns ready
    latencies = []
    for clip in clips:
        start = time.perf_counter()
        separate_one(separator, clip)
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()  # the share of it that encoding the queries took, timed apart
    for clip in clips:
        separator.embed([clip.query])
    text_seconds = time.perf_counter() - start
    return BaselineResult(mix_seconds(clips), sum(latencies), text_seconds, [c.seconds for c in clips], latencies)

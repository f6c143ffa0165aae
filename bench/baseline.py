"""The obvious alternative: AudioSep's official one-at-a-time procedure, reproduced in-process.

Per file, as `separate_audio` in AudioSep's `pipeline.py` does it (`use_chunk=False`): decode and
downmix to mono, resample to the model rate, encode the query text (every call: no cache), run the
network once over the whole file (no chunks, no batching, no server), write 16-bit WAV at the
model rate. Files are processed one after the other.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch

from bench.workload import Clip, mix_seconds
from model.plan import resample
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


def separate_one(separator: Separator, clip: Clip) -> tuple[bytes, float]:
    """The separated file, and the seconds spent encoding the query."""
    samples, rate = sf.read(io.BytesIO(clip.wav), dtype="float32", always_2d=True)
    mono = np.ascontiguousarray(samples.mean(axis=1)[None])
    mixture = torch.from_numpy(resample(mono, rate, separator.sample_rate))
    start = time.perf_counter()
    condition = separator.embed([clip.query])
    text_seconds = time.perf_counter() - start
    separated = separator.separate_chunks(mixture, condition)[0].cpu().numpy()  # the whole file is one item
    buffer = io.BytesIO()
    sf.write(buffer, np.round(separated * 32767).astype(np.int16), separator.sample_rate, format="WAV")
    return buffer.getvalue(), text_seconds


def one_at_a_time(separator: Separator, clips: list[Clip]) -> BaselineResult:
    separate_one(separator, clips[0])  # warm-up, as the service warms up before it turns ready
    latencies, text_seconds = [], 0.0
    for clip in clips:
        start = time.perf_counter()
        _, encoding = separate_one(separator, clip)
        latencies.append(time.perf_counter() - start)
        text_seconds += encoding
    return BaselineResult(mix_seconds(clips), sum(latencies), text_seconds, [c.seconds for c in clips], latencies)

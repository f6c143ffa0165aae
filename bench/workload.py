"""The traffic every benchmark replays: a fixed, seeded mix of uploads and queries.

Durations are log-uniform between the shortest and longest clip (many short uploads, a few long
ones), and a handful of queries repeat with falling frequency, as real traffic does. The audio is a
few tones over noise: the model's cost depends on the length only, not on what the sound is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

UPLOAD_RATE = 44_100  # what recordings usually come at; the service resamples to the model rate and back
SHORT_CLIP_SECONDS = 2.0  # the "short clips" the latency goal is about: 1-2 s
QUERIES = ("a man speaking", "a dog barking", "the piano", "a woman singing", "rain on a roof", "a car horn")
QUERY_WEIGHTS = (0.35, 0.2, 0.15, 0.12, 0.1, 0.08)


@dataclass(frozen=True)
class Clip:
    seconds: float
    query: str
    wav: bytes  # mono 16-bit WAV at UPLOAD_RATE

    @property
    def short(self) -> bool:
        return self.seconds <= SHORT_CLIP_SECONDS


def clip_mix(count: int, min_seconds: float = 1.0, max_seconds: float = 30.0, seed: int = 2026) -> list[Clip]:
    rng = np.random.default_rng(seed)
    durations = np.exp(rng.uniform(np.log(min_seconds), np.log(max_seconds), count)).round(2)
    queries = rng.choice(len(QUERIES), size=count, p=QUERY_WEIGHTS)
    return [Clip(float(seconds), QUERIES[q], wav_bytes(seconds, rng)) for seconds, q in zip(durations, queries)]


def wav_bytes(seconds: float, rng: np.random.Generator, rate: int = UPLOAD_RATE, channels: int = 1) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    tones = sum(0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) for _ in range(3))
    samples = (tones + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    if channels > 1:  # the same tones, each channel its own noise
        others = [(tones + 0.05 * rng.standard_normal(len(t))).astype(np.float32) for _ in range(channels - 1)]
        samples = np.stack([samples, *others], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def mix_seconds(clips: list[Clip]) -> float:
    return sum(clip.seconds for clip in clips)

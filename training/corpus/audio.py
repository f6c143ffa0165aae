"""Small waveform helpers shared by the source generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr


def read_mono(path: Path, sample_rate: int) -> np.ndarray:
    """Read any file soundfile understands as float32 mono at ``sample_rate``."""
    audio, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if file_rate != sample_rate:
        audio = soxr.resample(audio, file_rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def peak_normalise(audio: np.ndarray, peak: float) -> np.ndarray:
    largest = float(np.max(np.abs(audio))) if audio.size else 0.0
    if largest < 1e-6:
        return audio.astype(np.float32)
    return (audio * (peak / largest)).astype(np.float32)


def trim_silence(audio: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Drop leading and trailing samples quieter than ``threshold`` (relative to the peak)."""
    loud = np.flatnonzero(np.abs(audio) > threshold * max(float(np.max(np.abs(audio))), 1e-9))
    if loud.size == 0:
        return audio
    return audio[loud[0] : loud[-1] + 1]


def fade(audio: np.ndarray, fade_samples: int) -> np.ndarray:
    """Short linear fade in and out, so a cut clip starts and ends without a click."""
    fade_samples = min(fade_samples, len(audio) // 2)
    if fade_samples == 0:
        return audio
    ramp = np.linspace(0.0, 1.0, fade_samples, dtype=np.float32)
    audio = audio.copy()
    audio[:fade_samples] *= ramp
    audio[-fade_samples:] *= ramp[::-1]
    return audio


def random_excerpt(audio: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random window of ``length`` samples, or the whole clip when it is shorter."""
    if len(audio) <= length:
        return audio
    start = int(rng.integers(0, len(audio) - length + 1))
    return audio[start : start + length]

"""Training and evaluation mixtures drawn from a ``SourcePool``.

A mixture is a target segment of one class plus one or two interfering segments of other classes,
each at -5..+5 dB relative to the target. Drawing a batch only slices and scales in-memory arrays
(all filtering happened at render time), so it stays cheap enough for every training step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pool import SourcePool

FRAME = 160  # samples per energy frame; segment starts are placed on this grid
INT16_SCALE = 1 / 32768
ACTIVE_POWER_RATIO = 0.25  # a segment must carry at least a quarter of its clip's mean power
START_TRIES = 8
MIXTURE_RMS_DB = (-35.0, -12.0)  # overall level of the mixture, in dB relative to full scale
PEAK_LIMIT = 0.99


@dataclass
class Example:
    target: np.ndarray  # float32 [T]
    interference: np.ndarray  # float32 [T], the sum of the interferers
    class_index: int
    interferer_classes: tuple[int, ...]

    @property
    def mixture(self) -> np.ndarray:
        return self.target + self.interference


class MixtureSampler:
    def __init__(
        self,
        pool: SourcePool,
        segment_samples: int,
        seed: int,
        interferers: tuple[int, int] = (1, 2),
        relative_level_db: tuple[float, float] = (-5.0, 5.0),
    ):
        self.pool = pool
        self.segment_samples = segment_samples
        self.interferers = interferers
        self.relative_level_db = relative_level_db
        self.rng = np.random.default_rng(seed)
        self.classes = [i for i, count in enumerate(pool.clip_counts) if count > 0]
        if len(self.classes) < 2:
            raise ValueError(f"mixing needs clips of at least two classes, {pool.directory} has {len(self.classes)}")
        # Cumulative frame power of every clip: the power of any segment in O(1).
        self.cumulative_power = [[_cumulative_frame_power(clip) for clip in class_clips] for class_clips in pool.clips]

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``batch_size`` random mixtures: mixture and target float32 [B, T], target class int64 [B]."""
        targets = self.rng.choice(self.classes, size=batch_size)
        return _stack([self.draw(int(c)) for c in targets])

    def draw(self, class_index: int) -> Example:
        """One mixture whose target is of ``class_index``."""
        target = self._segment(class_index)
        target_rms = _rms(target)
        others = [c for c in self.classes if c != class_index]
        count = int(self.rng.integers(self.interferers[0], self.interferers[1] + 1))
        interferer_classes = tuple(int(c) for c in self.rng.choice(others, size=min(count, len(others)), replace=False))
        interference = np.zeros(self.segment_samples, dtype=np.float32)
        for other in interferer_classes:
            segment = self._segment(other)
            level_db = self.rng.uniform(*self.relative_level_db)
            interference += segment * np.float32(target_rms * 10 ** (level_db / 20) / _rms(segment))
        gain = 10 ** (self.rng.uniform(*MIXTURE_RMS_DB) / 20) / _rms(target + interference)
        peak = float(np.max(np.abs(target + interference))) * gain
        gain *= min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0  # never clip: scale everything together
        return Example(target * np.float32(gain), interference * np.float32(gain), class_index, interferer_classes)

    def _segment(self, class_index: int) -> np.ndarray:
        """A random active segment of a random clip of the class, float32, padded if the clip is short."""
        clip_number = int(self.rng.integers(len(self.pool.clips[class_index])))
        clip = self.pool.clips[class_index][clip_number]
        cumulative = self.cumulative_power[class_index][clip_number]
        frames = self.segment_samples // FRAME
        if len(clip) <= self.segment_samples:
            segment = np.zeros(self.segment_samples, dtype=np.float32)
            offset = int(self.rng.integers(0, self.segment_samples - len(clip) + 1))
            segment[offset : offset + len(clip)] = clip * np.float32(INT16_SCALE)
            return segment
        clip_power = cumulative[-1] / (len(cumulative) - 1)
        last_start = (len(clip) - self.segment_samples) // FRAME
        best_start, best_power = 0, -1.0
        for _ in range(START_TRIES):
            start = int(self.rng.integers(0, last_start + 1))
            power = (cumulative[min(start + frames, len(cumulative) - 1)] - cumulative[start]) / frames
            if power > best_power:
                best_start, best_power = start, power
            if power >= ACTIVE_POWER_RATIO * clip_power:
                break
        first = best_start * FRAME
        return clip[first : first + self.segment_samples] * np.float32(INT16_SCALE)


def fixed_mixtures(
    pool: SourcePool, n: int, segment_samples: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``n`` reproducible (mixture, target, class index) triples, targets cycling through the classes."""
    sampler = MixtureSampler(pool, segment_samples, seed)
    examples = [sampler.draw(sampler.classes[i % len(sampler.classes)]) for i in range(n)]
    return [(example.mixture, example.target, example.class_index) for example in examples]


def _cumulative_frame_power(clip: np.ndarray) -> np.ndarray:
    frames = len(clip) // FRAME
    power = np.square(clip[: frames * FRAME].astype(np.float64) * INT16_SCALE).reshape(frames, FRAME).mean(axis=1)
    return np.concatenate([[0.0], np.cumsum(power)])


def _rms(audio: np.ndarray) -> float:
    # The floor (-100 dB) keeps gains finite for a silent segment.
    return max(float(np.sqrt(np.mean(np.square(audio)))), 1e-5)


def _stack(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    targets = np.stack([e.target for e in examples])
    mixtures = targets + np.stack([e.interference for e in examples])
    classes = np.array([e.class_index for e in examples], dtype=np.int64)
    return mixtures, targets, classes

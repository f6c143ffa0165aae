"""Training and evaluation mixtures drawn from a ``SourcePool``.

Contract: ``MixtureSampler(pool, segment_samples, seed).sample(batch) -> (mixture [B, T],
target [B, T], class [B])``, float32, float32, int64, every number drawn from one generator
seeded with ``seed``: the same seed replays the same batches (training resumes that way).
``draw(class_index)`` gives one ``Example`` whose target class is present; ``sample`` may also
give zero-target items. ``mixture == target + interference`` always holds, to float precision.

Two ways of mixing, chosen by ``realism`` (default: from the pool):

- ``None`` (synthetic pools, as before): a target plus one or two segments of other classes at
  -5..+5 dB relative to it, nothing else.
- a ``Realism`` (``REALISTIC`` for real-corpus pools): mixtures like real life. A target with one
  to three others at -10..+10 dB; a music bed under a share of speech targets; a share of
  zero-target items (DCASE 2026): the queried class is absent, the target is silence and the
  "class" returned is the queried one; and, for a share of mixtures each, the channel a
  recording goes through:
  * equaliser: band limits and resonances of a cheap microphone or speaker (target and
    interference alike: the target is what that microphone heard of it);
  * telephone band: 8 kHz, mu-law companding of the mixture, 300-3400 Hz, back to the segment's
    rate; nothing is left above 3.4 kHz, in target or mixture; the companding error counts as
    interference;
  * compression: one slowly varying gain from the mixture's envelope on everything;
  * noise: coloured noise at 5-30 dB SNR, as interference;
  * clipping: the mixture hard-clipped below its peak; the distortion counts as interference.
  Interferers, beds and absent queries never ``conflicting()`` with the target's class
  ("music" holds instruments, rain holds thunder). Rooms (reverb) are rendered into the pool's
  clips: a convolution per step would cost more than the step.

Drawing only slices, scales and filters in-memory arrays of one segment, so it stays cheap enough
for every training step on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy import signal

from .augment import coloured_noise, peaking_filter
from .classes import conflicting
from .pool import SourcePool

FRAME = 160  # samples per energy frame; segment starts are placed on this grid
INT16_SCALE = 1 / 32768
ACTIVE_POWER_RATIO = 0.25  # a segment must carry at least a quarter of its clip's mean power
START_TRIES = 8
MIXTURE_RMS_DB = (-35.0, -12.0)  # overall level of the mixture, in dB relative to full scale
PEAK_LIMIT = 0.99
TELEPHONE_RATE = 8_000
MU = 255.0  # G.711 mu-law
# Telephone band: 300 Hz high-pass, and an elliptic low-pass that is -60 dB by 3.4 kHz.
TELEPHONE_SOS = np.concatenate([
    signal.butter(4, 300, "highpass", fs=TELEPHONE_RATE, output="sos"),
    signal.ellip(8, 0.5, 60, 3300, "lowpass", fs=TELEPHONE_RATE, output="sos"),
])


@dataclass(frozen=True)
class Realism:
    """How real-life mixtures are drawn; shares are probabilities per mixture."""

    interferers: tuple[int, int] = (1, 3)
    relative_level_db: tuple[float, float] = (-10.0, 10.0)
    absent_share: float = 0.12  # zero-target items: the queried class is absent, the target silent
    music_bed_share: float = 0.35  # speech targets get a music interferer...
    music_bed_db: tuple[float, float] = (-10.0, 0.0)  # ...this far below the speech
    equaliser_share: float = 0.25
    telephone_share: float = 0.1
    compression_share: float = 0.15
    noise_share: float = 0.25
    noise_snr_db: tuple[float, float] = (5.0, 30.0)
    clipping_share: float = 0.05


REALISTIC = Realism()
CLEAN = Realism(absent_share=0.0, music_bed_share=0.0, equaliser_share=0.0, telephone_share=0.0,
                compression_share=0.0, noise_share=0.0, clipping_share=0.0)
AUTO = "auto"


@dataclass
class Example:
    target: np.ndarray  # float32 [T]; all zeros when the queried class is absent
    interference: np.ndarray  # float32 [T], everything else in the mixture
    class_index: int  # the queried class
    interferer_classes: tuple[int, ...]
    levels_db: tuple[float, ...] = ()  # each interferer's level relative to the target, before the channel
    effects: tuple[str, ...] = ()  # channel effects applied to this mixture
    absent: bool = False  # the queried class is not in the mixture

    @property
    def mixture(self) -> np.ndarray:
        return self.target + self.interference


class MixtureSampler:
    def __init__(
        self,
        pool: SourcePool,
        segment_samples: int,
        seed: int,
        interferers: tuple[int, int] | None = None,
        relative_level_db: tuple[float, float] | None = None,
        realism: Realism | None | str = AUTO,
    ):
        self.pool = pool
        self.segment_samples = segment_samples
        if realism == AUTO:
            realism = REALISTIC if getattr(pool, "kind", "synthetic") == "real" else None
        self.realism = realism
        default_interferers, default_levels = ((1, 2), (-5.0, 5.0)) if realism is None else (
            realism.interferers, realism.relative_level_db)
        self.interferers = interferers or default_interferers
        self.relative_level_db = relative_level_db or default_levels
        self.rng = np.random.default_rng(seed)
        self.classes = [i for i, count in enumerate(pool.clip_counts) if count > 0]
        if len(self.classes) < 2:
            raise ValueError(f"mixing needs clips of at least two classes, {pool.directory} has {len(self.classes)}")
        # Cumulative frame power of every clip: the power of any segment in O(1).
        self.cumulative_power = [[_cumulative_frame_power(clip) for clip in class_clips] for class_clips in pool.clips]
        labels = [c.label for c in getattr(pool, "classes", ())] or None
        if realism is not None:
            if labels is None:
                raise ValueError("realistic mixing needs a pool that names its classes")
            self.conflicts = np.array([[conflicting(a, b) for b in labels] for a in labels])
            music = labels.index("music") if "music" in labels else None
            self.music = music if music is not None and pool.clip_counts[music] else None
            self.speech = labels.index("speech") if "speech" in labels else None

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``batch_size`` random mixtures: mixture and target float32 [B, T], queried class int64 [B]."""
        targets = self.rng.choice(self.classes, size=batch_size)
        if self.realism is None:
            return _stack([self.draw(int(c)) for c in targets])
        absent = self.rng.random(batch_size) < self.realism.absent_share
        return _stack([self._draw_realistic(int(c), bool(a)) for c, a in zip(targets, absent)])

    def draw(self, class_index: int) -> Example:
        """One mixture whose target is of ``class_index`` (present)."""
        if self.realism is not None:
            return self._draw_realistic(class_index, absent=False)
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

    def _draw_realistic(self, class_index: int, absent: bool) -> Example:
        realism, rng = self.realism, self.rng
        allowed = [c for c in self.classes if not self.conflicts[class_index, c]]
        if not allowed:
            raise ValueError(f"no class in {self.pool.directory} can be mixed with class {class_index}")
        count = min(int(rng.integers(self.interferers[0], self.interferers[1] + 1)), len(allowed))
        chosen: list[int] = []
        bed = (not absent and class_index == self.speech and self.music in allowed
               and rng.random() < realism.music_bed_share)
        if bed:
            chosen.append(self.music)
        rest = [c for c in allowed if c not in chosen]
        if count > len(chosen) and rest:
            chosen += [int(c) for c in rng.choice(rest, size=min(count - len(chosen), len(rest)), replace=False)]

        target = np.zeros(self.segment_samples, np.float32) if absent else self._segment(class_index)
        reference = 1.0 if absent else _rms(target)
        interference = np.zeros(self.segment_samples, np.float32)
        levels = []
        for position, other in enumerate(chosen):
            segment = self._segment(other)
            level_db = float(rng.uniform(*(realism.music_bed_db if bed and position == 0 else self.relative_level_db)))
            interference += segment * np.float32(reference * 10 ** (level_db / 20) / _rms(segment))
            levels.append(round(level_db, 2))
        target, interference, effects = self._channel(target, interference)
        gain = 10 ** (rng.uniform(*MIXTURE_RMS_DB) / 20) / _rms(target + interference)
        peak = float(np.max(np.abs(target + interference))) * gain
        gain *= min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0
        return Example(target * np.float32(gain), interference * np.float32(gain), class_index, tuple(chosen),
                       tuple(levels), effects, absent)

    def _channel(self, target: np.ndarray, interference: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The recording chain, each stage for its share of mixtures (see the module doc)."""
        realism, rng = self.realism, self.rng
        rate = self.pool.sample_rate
        effects = []
        if rng.random() < realism.equaliser_share:
            sos = _random_equaliser(rng, rate)
            target, interference = _sosfilt(sos, target), _sosfilt(sos, interference)
            effects.append("equaliser")
        if rng.random() < realism.telephone_share:
            target, interference = _telephone(target, interference, rate)
            effects.append("telephone")
        if rng.random() < realism.compression_share:
            gain = _compressor_gain(target + interference, rng)
            target, interference = target * gain, interference * gain
            effects.append("compression")
        if rng.random() < realism.noise_share:
            mixture_rms = _rms(target + interference)
            snr_db = rng.uniform(*realism.noise_snr_db)
            noise = coloured_noise(len(target), float(rng.uniform(0, 2)), rng) * mixture_rms * 10 ** (-snr_db / 20)
            if "telephone" in effects:  # the line's noise is band-limited too
                noise = _telephone(np.zeros_like(target), noise.astype(np.float32), rate, companding=False)[1]
            interference = interference + noise.astype(np.float32)
            effects.append("noise")
        if rng.random() < realism.clipping_share:
            mixture = target + interference
            threshold = float(np.max(np.abs(mixture))) * rng.uniform(0.3, 0.7)
            interference = np.clip(mixture, -threshold, threshold) - target
            effects.append("clipping")
        return target.astype(np.float32), interference.astype(np.float32), tuple(effects)

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


def _random_equaliser(rng: np.random.Generator, rate: int) -> np.ndarray:
    """Second-order sections: a microphone's band limits and up to three resonances."""
    sections = [
        signal.butter(2, rng.uniform(50, 300), "highpass", fs=rate, output="sos"),
        signal.butter(2, min(rng.uniform(3000, 7500), 0.45 * rate), "lowpass", fs=rate, output="sos"),
    ]
    for _ in range(int(rng.integers(0, 4))):
        centre = float(np.exp(rng.uniform(np.log(150), np.log(0.35 * rate))))
        sections.append(peaking_filter(centre, float(rng.uniform(-9, 9)), float(rng.uniform(0.7, 3)), rate))
    return np.concatenate(sections)


def _sosfilt(sos: np.ndarray, audio: np.ndarray) -> np.ndarray:
    return signal.sosfilt(sos, audio).astype(np.float32)


def _telephone(target: np.ndarray, interference: np.ndarray, rate: int,
               companding: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both through an 8 kHz telephone line; the companding error of the mixture joins the interference."""
    length = len(target)
    narrow = soxr.resample(np.stack([target, target + interference], axis=1), rate, TELEPHONE_RATE)
    target_line, mixture_line = narrow[:, 0], narrow[:, 1]
    if companding:
        mixture_line = _mu_law(mixture_line)
    wide = soxr.resample(np.stack([_sosfilt(TELEPHONE_SOS, target_line), _sosfilt(TELEPHONE_SOS, mixture_line)],
                                  axis=1), TELEPHONE_RATE, rate)
    wide = np.pad(wide, ((0, max(0, length - len(wide))), (0, 0)))[:length]
    return wide[:, 0].astype(np.float32), (wide[:, 1] - wide[:, 0]).astype(np.float32)


def _mu_law(audio: np.ndarray) -> np.ndarray:
    """8-bit G.711 mu-law encode and decode, relative to the signal's peak (the line's gain)."""
    scale = float(np.max(np.abs(audio))) or 1.0
    x = np.clip(audio / scale, -1.0, 1.0)
    coded = np.round(np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU) * 127) / 127
    return (np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(MU)) / MU * scale).astype(np.float32)


def _compressor_gain(mixture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A downward compressor's gain: frame levels above a threshold are reduced by a ratio."""
    frames = len(mixture) // FRAME
    level = np.sqrt(np.mean(np.square(mixture[: frames * FRAME]).reshape(frames, FRAME), axis=1) + 1e-12)
    threshold = float(np.max(level)) * 10 ** (-rng.uniform(6, 20) / 20)
    ratio = rng.uniform(2, 8)
    gain = np.minimum(1.0, (np.maximum(level, 1e-9) / threshold) ** (1 / ratio - 1))
    gain = np.convolve(gain, np.ones(5) / 5, mode="same")  # 50 ms smoothing: no zipper noise
    full = np.repeat(gain, FRAME)
    full = np.pad(full, (0, len(mixture) - len(full)), mode="edge")
    return full.astype(np.float32)


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

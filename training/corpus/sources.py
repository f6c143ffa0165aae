"""Which generator renders each class in each split, behind one batch interface.

``render_clips(label, clip_indices, rngs, split, sample_rate)`` returns one ``(audio, details)``
pair per requested clip; instrument clips are rendered in batches, the others one at a time.
"""

from __future__ import annotations

import numpy as np

from .music import INSTRUMENTS, instrument_clips
from .procedural import PROCEDURAL_SOURCES, procedural_clip
from .recorded import recorded_capacity, recorded_clip
from .speech import speech_clip

SPLITS = ("train", "valid", "test", "independent")
# Synthetic clips get random rooms and microphones; recordings and FluidR3 renders stay as they are.
AUGMENTED_SPLITS = ("train", "valid", "test")


def clip_capacity(label: str, split: str) -> int | None:
    """The most clips a class can have in a split (None: unlimited)."""
    if split == "independent" and label not in INSTRUMENTS:
        return recorded_capacity(label)
    return None


def render_clips(
    label: str, clip_indices: list[int], rngs: list[np.random.Generator], split: str, sample_rate: int
) -> list[tuple[np.ndarray, dict]]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if label in INSTRUMENTS:
        return instrument_clips(label, rngs, split, sample_rate)
    if split == "independent":
        return [recorded_clip(label, i, rng, sample_rate) for i, rng in zip(clip_indices, rngs)]
    if label == "speech":
        return [speech_clip(rng, split, sample_rate) for rng in rngs]
    if label in PROCEDURAL_SOURCES:
        return [procedural_clip(label, rng, sample_rate) for rng in rngs]
    raise KeyError(f"no source renders class {label!r}")

"""Rendering a split of the corpus to disk, and loading it back into memory.

A pool is ``root/split/<class_slug>/NNNN.wav`` plus ``manifest.json``, which records how every
clip was made and which class list its indices refer to: ``CLASSES`` for the synthetic corpus,
``ALL_CLASSES`` for the real-recordings corpus (``realpool.py``, ``"corpus": "real"``).
``SourcePool.load`` reads either, or one split of a packed file (``packing.py``).

Each clip has its own random generator derived from (split seed, class, index), so
a clip is the same whether it is rendered in one go or after an interrupted build resumes (an
instrument clip up to inaudible differences: fluidsynth keeps a little state from the clip
rendered before it in the same batch).
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from .audio import peak_normalise
from .augment import augment
from .classes import ALL_CLASSES, CLASSES, SoundClass
from .sources import AUGMENTED_SPLITS, SPLITS, clip_capacity, render_clips

# Disjoint seeds: no split shares a random stream with another.
SPLIT_SEEDS = {"train": 1_000, "valid": 2_000, "test": 3_000, "independent": 4_000}
MANIFEST = "manifest.json"
PEAK = 0.9
RENDER_BATCH = 16  # clips rendered (and recorded in the manifest) together
SILENT_PEAK = 1e-4


def clip_rng(seed: int, label: str, clip_index: int) -> np.random.Generator:
    # crc32 of the label rather than its position, so adding a class does not reshuffle the others.
    return np.random.default_rng([seed, zlib.crc32(label.encode()), clip_index])


def clip_name(slug: str, clip_index: int) -> str:
    return f"{slug}/{clip_index:04d}.wav"


def _load_manifest(pool_dir: Path, split: str, sample_rate: int, seed: int) -> dict:
    path = pool_dir / MANIFEST
    if not path.exists():
        return {"split": split, "sample_rate": sample_rate, "seed": seed, "clips": {}}
    manifest = json.loads(path.read_text())
    for key, expected in (("split", split), ("sample_rate", sample_rate), ("seed", seed)):
        if manifest[key] != expected:
            raise ValueError(f"{path} was built with {key}={manifest[key]!r}, not {expected!r}; use another root")
    return manifest


def _write_atomically(path: Path, write) -> None:
    """Write through a temporary file, so an interrupted build never leaves a half-written file."""
    temporary = path.with_name(path.name + ".partial")
    write(temporary)
    os.replace(temporary, path)


def _save_manifest(pool_dir: Path, manifest: dict, classes: tuple[SoundClass, ...] = CLASSES) -> None:
    manifest["classes"] = [c.label for c in classes]
    _write_atomically(pool_dir / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=1, sort_keys=True)))


def _missing_clips(pool_dir: Path, manifest: dict, slug: str, count: int) -> list[int]:
    """A clip counts as built only when both its file and its manifest entry exist."""
    return [
        i for i in range(count)
        if clip_name(slug, i) not in manifest["clips"] or not (pool_dir / clip_name(slug, i)).exists()
    ]


def _clip_count(label: str, split: str, clips_per_class: int) -> int:
    capacity = clip_capacity(label, split)
    return clips_per_class if capacity is None else min(clips_per_class, capacity)


def build_pool(
    root: Path,
    split: str,
    clips_per_class: int,
    sample_rate: int = 16_000,
    seed: int | None = None,
    progress: bool = True,
) -> Path:
    """Render ``clips_per_class`` clips of every class into ``root/split``; resumes a partial build.

    ``seed`` defaults to the split's own seed (``SPLIT_SEEDS``). In the independent split, classes
    with few or no recordings get fewer clips.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    seed = SPLIT_SEEDS[split] if seed is None else seed
    pool_dir = Path(root) / split
    pool_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(pool_dir, split, sample_rate, seed)

    wanted = {c.label: _clip_count(c.label, split, clips_per_class) for c in CLASSES}
    missing = {c.label: _missing_clips(pool_dir, manifest, c.slug, wanted[c.label]) for c in CLASSES}
    total = sum(wanted.values())
    with tqdm(total=total, initial=total - sum(map(len, missing.values())), desc=f"building {split}",
              unit="clip", disable=not progress) as bar:
        for sound_class in CLASSES:
            (pool_dir / sound_class.slug).mkdir(exist_ok=True)
            indices = missing[sound_class.label]
            for start in range(0, len(indices), RENDER_BATCH):
                batch = indices[start : start + RENDER_BATCH]
                _render_batch(pool_dir, manifest, sound_class.label, sound_class.slug, batch, split, sample_rate, seed)
                _save_manifest(pool_dir, manifest)
                bar.update(len(batch))
    _save_manifest(pool_dir, manifest)
    return pool_dir


def _render_batch(
    pool_dir: Path, manifest: dict, label: str, slug: str, indices: list[int], split: str, sample_rate: int, seed: int
) -> None:
    rngs = [clip_rng(seed, label, i) for i in indices]
    rendered = render_clips(label, indices, rngs, split, sample_rate)
    for clip_index, rng, (audio, details) in zip(indices, rngs, rendered):
        if float(np.max(np.abs(audio), initial=0.0)) < SILENT_PEAK:
            raise RuntimeError(f"{label} clip {clip_index} of {split} rendered silent: {details}")
        augmentation = {}
        if split in AUGMENTED_SPLITS:
            audio, augmentation = augment(audio, rng, sample_rate)
        audio = peak_normalise(audio, PEAK)
        name = clip_name(slug, clip_index)
        _write_atomically(
            pool_dir / name,
            lambda p: soundfile.write(str(p), audio, sample_rate, subtype="PCM_16", format="WAV"),
        )
        manifest["clips"][name] = {
            "class": label,
            "seconds": round(len(audio) / sample_rate, 3),
            "source": details,
            "augmentation": augmentation,
        }


def classes_named(labels: list[str]) -> tuple[SoundClass, ...]:
    """The class list a pool's indices refer to, from the labels its manifest records."""
    for candidate in (CLASSES, ALL_CLASSES):
        if [c.label for c in candidate] == list(labels):
            return candidate
    by_label = {c.label: c for c in ALL_CLASSES}
    unknown = [label for label in labels if label not in by_label]
    if unknown:
        raise ValueError(f"the pool names classes this code does not know: {unknown}")
    return tuple(by_label[label] for label in labels)


@dataclass
class SourcePool:
    """All clips of one split in memory as int16, grouped by class in ``classes`` order
    (``CLASSES`` for a synthetic pool, ``ALL_CLASSES`` for a real-corpus pool)."""

    directory: Path
    sample_rate: int
    clips: list[list[np.ndarray]]  # clips[class_index] -> list of int16 waveforms
    classes: tuple[SoundClass, ...] = CLASSES
    kind: str = "synthetic"  # "real": the real-recordings corpus (MixtureSampler mixes it realistically)

    @classmethod
    def load(cls, pool_dir: Path, split: str | None = None) -> SourcePool:
        """A pool directory (``root/split``), or with ``split`` one split of a packed pool file."""
        pool_dir = Path(pool_dir)
        if pool_dir.is_file():
            from .packing import load_packed

            if split is None:
                raise ValueError(f"{pool_dir} is a packed pool: say which split to load")
            return load_packed(pool_dir, split)
        manifest_path = pool_dir / MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} not found; build the pool first (python -m training.corpus build)")
        manifest = json.loads(manifest_path.read_text())
        classes = classes_named(manifest.get("classes", [c.label for c in CLASSES]))
        labels = [c.label for c in classes]
        clips: list[list[np.ndarray]] = [[] for _ in classes]
        for name, entry in sorted(manifest["clips"].items()):
            audio, rate = soundfile.read(str(pool_dir / name), dtype="int16")
            if rate != manifest["sample_rate"]:
                raise ValueError(f"{name} is at {rate} Hz, the manifest says {manifest['sample_rate']} Hz")
            clips[labels.index(entry["class"])].append(audio)
        return cls(pool_dir, manifest["sample_rate"], clips, classes, manifest.get("corpus", "synthetic"))

    @property
    def clip_counts(self) -> list[int]:
        return [len(class_clips) for class_clips in self.clips]

    def __len__(self) -> int:
        return sum(self.clip_counts)

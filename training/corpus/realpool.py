"""Rendering a split of the real-recordings corpus from the committed manifest.

Contract: ``build_real_pool(root, split, clips_per_class)`` writes ``root/split/<class>/NNNN.wav``
and ``manifest.json`` (``"corpus": "real"``, classes in ``ALL_CLASSES`` order), the same layout
as the synthetic pool, so ``SourcePool.load`` reads both. Every class of ``ALL_CLASSES`` gets
clips: real ones from the manifest's files of this split, synthetic ones from the existing
generators where the class has them (the 13 synthetic classes). In train a class with both draws
``REAL_SHARE`` of its clips from recordings; valid and test use recordings wherever the class
has some in that split (so they measure real sounds), synthetic clips otherwise.

A clip is reproducible from (split seed, class, index) and the manifest: the generator of
``pool.clip_rng`` picks the package (weighted by the square root of its file count, so one big
game does not drown the others), the file, the excerpt and the augmentation. Recordings shorter
than ``EVENT_SECONDS`` (a footstep, a bark) are repeated with other takes of the same source
group and pauses, like a dog that keeps barking; longer ones give a random loud excerpt. Speech
clips are 3-8 s phrases of one speaker: sentences are cut, words and syllables of the same
speaker are strung together with short gaps. Training recordings get the synthetic corpus's
random room, equaliser and noise at render time with ``REAL_AUGMENT_PROBABILITY``, where the
convolution costs nothing per training step; valid and test recordings stay as recorded.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile
import soxr
from tqdm import tqdm

from .audio import fade, peak_normalise, trim_silence
from .augment import augment
from .classes import ALL_CLASSES, CLASSES
from .packages import DEFAULT_ROOT, require_not_reserved
from .pool import (
    PEAK,
    RENDER_BATCH,
    SILENT_PEAK,
    _load_manifest,
    _missing_clips,
    _save_manifest,
    _write_atomically,
    clip_rng,
)
from .real_manifest import Entry, read_bytes, read_manifest
from .sources import render_clips

REAL_SPLIT_SEEDS = {"train": 11_000, "valid": 12_000, "test": 13_000}
REAL_SHARE = 0.7  # train: share of real clips in a class that also has a synthetic source
REAL_AUGMENT_PROBABILITY = 0.5
EVENT_SECONDS = 2.0
CLIP_SECONDS = (3.0, 8.0)
MUSIC_SECONDS = (6.0, 12.0)
AUDIBLE_PEAK = 1e-3  # the scan kept only files that reach it; an excerpt below it is silence
RETRIES = 8
TIER_B_WEIGHT = 0.5  # processed or acted speech is drawn half as often as natural speech
SYNTHETIC_LABELS = {c.label for c in CLASSES}


def build_real_pool(
    root: Path,
    split: str,
    clips_per_class: int,
    debs: Path = DEFAULT_ROOT,
    speech_clips: int | None = None,
    sample_rate: int = 16_000,
    entries: list[Entry] | None = None,
    labels: tuple[str, ...] | None = None,
    progress: bool = True,
) -> Path:
    """Render ``clips_per_class`` clips of every class (``speech_clips`` of speech, default three
    times as many: it has the most speakers to show) into ``root/split``; resumes a partial build.
    ``entries`` defaults to the committed manifest, ``labels`` (a subset of classes) to all."""
    if split not in REAL_SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(REAL_SPLIT_SEEDS)}")
    seed = REAL_SPLIT_SEEDS[split]
    entries = read_manifest() if entries is None else entries
    for package in {e.package for e in entries}:
        require_not_reserved(package)
    by_class: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.split == split:
            by_class[entry.label].append(entry)
    pool_dir = Path(root) / split
    pool_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(pool_dir, split, sample_rate, seed)
    manifest["corpus"] = "real"
    wanted = {
        c.label: (speech_clips or 3 * clips_per_class) if c.label == "speech" else clips_per_class
        for c in ALL_CLASSES
        if (by_class.get(c.label) or c.label in SYNTHETIC_LABELS) and (labels is None or c.label in labels)
    }
    missing = {label: _missing_clips(pool_dir, manifest, _slug(label), count) for label, count in wanted.items()}
    total = sum(wanted.values())
    renderer = RealRenderer(Path(debs), sample_rate)
    with tqdm(total=total, initial=total - sum(map(len, missing.values())), desc=f"building real {split}",
              unit="clip", disable=not progress) as bar:
        for label, indices in missing.items():
            (pool_dir / _slug(label)).mkdir(exist_ok=True)
            for start in range(0, len(indices), RENDER_BATCH):
                batch = indices[start : start + RENDER_BATCH]
                _render_batch(pool_dir, manifest, label, batch, split, seed, by_class.get(label, []), renderer)
                _save_manifest(pool_dir, manifest, ALL_CLASSES)
                bar.update(len(batch))
    _save_manifest(pool_dir, manifest, ALL_CLASSES)
    return pool_dir


def _slug(label: str) -> str:
    return label.replace(" ", "_")


def _real_share(label: str, split: str, has_real: bool) -> float:
    if not has_real:
        return 0.0
    if label not in SYNTHETIC_LABELS or split != "train":
        return 1.0
    return REAL_SHARE


def _render_batch(pool_dir, manifest, label, indices, split, seed, entries, renderer) -> None:
    rngs = [clip_rng(seed, label, i) for i in indices]
    share = _real_share(label, split, bool(entries))
    real = [bool(rng.random() < share) for rng in rngs]
    rendered: dict[int, tuple[np.ndarray, dict]] = {}
    synthetic = [n for n, is_real in enumerate(real) if not is_real]
    if synthetic:
        outputs = render_clips(label, [indices[n] for n in synthetic], [rngs[n] for n in synthetic], split,
                               renderer.sample_rate)
        for n, (audio, details) in zip(synthetic, outputs):
            rendered[n] = (audio, {**details, "origin": "synthetic"})
    for n, is_real in enumerate(real):
        if is_real:
            rendered[n] = renderer.clip(label, entries, rngs[n])
    for n, clip_index in enumerate(indices):
        audio, details = rendered[n]
        rng = rngs[n]
        if float(np.max(np.abs(audio), initial=0.0)) < SILENT_PEAK:
            raise RuntimeError(f"{label} clip {clip_index} of {split} rendered silent: {details}")
        augmentation = {}
        # Synthetic clips always get a room and a microphone; recordings only in train, and not all.
        synthetic = details["origin"] == "synthetic"
        if synthetic or (split == "train" and rng.random() < REAL_AUGMENT_PROBABILITY):
            audio, augmentation = augment(audio, rng, renderer.sample_rate)
        audio = peak_normalise(audio, PEAK)
        name = f"{_slug(label)}/{clip_index:04d}.wav"
        _write_atomically(
            pool_dir / name,
            lambda p, audio=audio: soundfile.write(str(p), audio, renderer.sample_rate, subtype="PCM_16", format="WAV"),
        )
        manifest["clips"][name] = {
            "class": label,
            "seconds": round(len(audio) / renderer.sample_rate, 3),
            "source": details,
            "augmentation": augmentation,
        }


class RealRenderer:
    """Turns manifest entries into clips at ``sample_rate``; decoded short files are cached."""

    def __init__(self, debs: Path, sample_rate: int):
        self.debs = debs
        self.sample_rate = sample_rate

    def clip(self, label: str, entries: list[Entry], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """A clip of ``label``; an excerpt that caught only the silence of a recording is drawn again."""
        for _ in range(RETRIES):
            draw = self.speech_clip if label == "speech" else lambda e, r: self.event_clip(label, e, r)
            audio, details = draw(entries, rng)
            if float(np.max(np.abs(audio), initial=0.0)) >= AUDIBLE_PEAK:
                break
        return audio, details

    def event_clip(self, label: str, entries: list[Entry], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        entry = _pick(entries, rng)
        seconds = MUSIC_SECONDS if label == "music" else CLIP_SECONDS
        length = int(rng.uniform(*seconds) * self.sample_rate)
        if entry.seconds >= EVENT_SECONDS:
            audio = self.excerpt(entry, length, rng)
            return fade(audio, self.sample_rate // 100), {"origin": "real", "files": [_name(entry)]}
        # A short event: repeat takes of its source group with pauses, up to the clip length.
        takes = [e for e in entries if e.group == entry.group] or [entry]
        pieces, used, total = [], [], 0
        while total < length and len(used) < 16:
            take = entry if not used else takes[int(rng.integers(len(takes)))]
            audio = self.load(take)
            pause = np.zeros(int(rng.uniform(0.15, 1.0) * self.sample_rate), np.float32)
            pieces += [audio, pause]
            used.append(_name(take))
            total += len(audio) + len(pause)
        audio = np.concatenate(pieces)[: max(length, len(pieces[0]))]
        return fade(audio, self.sample_rate // 200), {"origin": "real", "files": used}

    def speech_clip(self, entries: list[Entry], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """3-8 s of one speaker: a cut sentence, or words and phrases strung together."""
        speakers = _speakers(tuple(entries))
        names = sorted(speakers)
        weights = np.array([
            math.sqrt(sum(e.seconds for e in speakers[s])) * (TIER_B_WEIGHT if speakers[s][0].tier == "B" else 1.0)
            for s in names
        ])
        speaker = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        clips = speakers[speaker]
        length = int(rng.uniform(*CLIP_SECONDS) * self.sample_rate)
        order = rng.permutation(len(clips))
        pieces, used, total = [], [], 0
        for position in order:
            entry = clips[int(position)]
            if entry.seconds * self.sample_rate >= length and not pieces:
                audio = self.excerpt(entry, length, rng)
                pieces, used, total = [audio], [_name(entry)], len(audio)
                break
            audio = trim_silence(self.load(entry), threshold=0.02)
            short = len(audio) < 1.2 * self.sample_rate  # a word or a syllable: short gaps, like speech
            gap = rng.uniform(0.05, 0.2) if short else rng.uniform(0.15, 0.5)
            pieces += [audio, np.zeros(int(gap * self.sample_rate), np.float32)]
            used.append(_name(entry))
            total += len(pieces[-2]) + len(pieces[-1])
            if total >= length:
                break
        audio = fade(np.concatenate(pieces)[:length], self.sample_rate // 100)
        first = clips[0]
        return audio, {"origin": "real", "speaker": speaker, "language": first.language, "tier": first.tier,
                       "files": used}

    def load(self, entry: Entry) -> np.ndarray:
        return _decode(self.debs, entry, self.sample_rate)

    def excerpt(self, entry: Entry, length: int, rng: np.random.Generator) -> np.ndarray:
        """A random excerpt of ``length`` samples (the whole file if shorter), the loudest of a few tries."""
        if entry.seconds > 60:  # long music files: seek rather than decode everything
            frames = int(length * entry.sample_rate / self.sample_rate) + 1
            best, best_power = None, -1.0
            data = _checked_bytes(self.debs, entry)
            with soundfile.SoundFile(io.BytesIO(data)) as handle:
                for _ in range(3):
                    handle.seek(int(rng.integers(0, max(1, handle.frames - frames))))
                    piece = handle.read(frames, dtype="float32", always_2d=True).mean(axis=1)
                    power = float(np.mean(piece**2)) if piece.size else 0.0
                    if power > best_power:
                        best, best_power = piece, power
            return _resample(best, entry.sample_rate, self.sample_rate)[:length]
        audio = self.load(entry)
        if len(audio) <= length:
            return audio
        best, best_power = 0, -1.0
        for _ in range(4):
            start = int(rng.integers(0, len(audio) - length + 1))
            power = float(np.mean(audio[start : start + length] ** 2))
            if power > best_power:
                best, best_power = start, power
        return audio[best : best + length]


def _name(entry: Entry) -> str:
    return f"{entry.package}:{entry.path}"


def _pick(entries: list[Entry], rng: np.random.Generator) -> Entry:
    """A package weighted by the square root of its file count, then one of its files."""
    by_package: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_package[entry.package].append(entry)
    packages = sorted(by_package)
    weights = np.sqrt([len(by_package[p]) for p in packages])
    package = packages[int(rng.choice(len(packages), p=weights / weights.sum()))]
    files = by_package[package]
    return files[int(rng.integers(len(files)))]


@lru_cache(maxsize=8)
def _speakers(entries: tuple[Entry, ...]) -> dict[str, list[Entry]]:
    speakers: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        speakers[entry.speaker].append(entry)
    return dict(speakers)


def _checked_bytes(debs: Path, entry: Entry) -> bytes:
    data = read_bytes(debs, entry.package, entry.path)
    if hashlib.md5(data).hexdigest() != entry.md5:
        raise ValueError(f"{entry.package}:{entry.path} differs from the manifest (md5); "
                         f"the package changed since the scan ({entry.version}): rescan")
    return data


@lru_cache(maxsize=1024)
def _decode(debs: Path, entry: Entry, sample_rate: int) -> np.ndarray:
    audio, rate = soundfile.read(io.BytesIO(_checked_bytes(debs, entry)), dtype="float32", always_2d=True)
    return _resample(audio.mean(axis=1), rate, sample_rate)


def _resample(audio: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)

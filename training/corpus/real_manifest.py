"""The committed list of real recordings the corpus uses, built by scanning the unpacked packages.

Contract: ``scan(root) -> list[Entry]`` reads every audio file of ``packages.TRAINING_PACKAGES``
under ``root`` (zip archives included), classifies it (``real.classify``), drops duplicates (md5),
unreadable, silent and too-short files and classes outside the vocabulary, records its licence,
and assigns a split; ``write_manifest``/``read_manifest`` store it as ``real_manifest.csv`` next
to this module. The pools are rendered from this file, so a rebuild reads exactly the files it
lists (the md5 is checked when a file is read).

Splits (train / valid / test; the reserved packages never appear):
- speech by speaker: speakers (package + language or voice directory) are ordered by a hash of
  their id and dealt to test, then valid, until each holds about ``HELD_OUT_SHARE`` of the speech
  minutes; no speaker is in two splits.
- everything else by source group within its class: files whose names differ only by a
  trailing take number or a velocity word ("swordman_attack1..12", "Snare-Soft/-Hard") form one
  group, so takes of one recording never straddle splits; groups are ordered by a hash and dealt
  to test, then valid, until each holds about ``HELD_OUT_SHARE`` of the class's files (at least
  one group each when the class has three or more).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zipfile
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from .classes import ALL_CLASSES
from .licences import Copyright
from .packages import ARCHIVE_SUFFIXES, AUDIO_SUFFIXES, TRAINING_PACKAGES, require_not_reserved, unpacked_version
from .real import Assignment, classify

MANIFEST_PATH = Path(__file__).with_name("real_manifest.csv.gz")
HELD_OUT_SHARE = 0.1  # of speech minutes, and of each class's source groups, per held-out split
MIN_SECONDS = 0.05
MAX_SAMPLE_RATE = 96_000  # a few klettres letters claim 128 kHz: a broken header, not a recording
SILENT_PEAK = 1e-3
DECODE_CHECK_SECONDS = 120.0  # longer files (music) are not decoded at scan time
REAL_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Entry:
    package: str
    version: str
    path: str  # inside the package; "archive!member" for a file inside a zip
    md5: str
    seconds: float
    sample_rate: int
    channels: int
    label: str
    tier: str
    speaker: str
    language: str
    group: str
    split: str
    licence: str


FIELDS = tuple(f.name for f in fields(Entry))


def read_bytes(root: Path, package: str, path: str) -> bytes:
    """The bytes of one packaged file, looking inside a zip archive for ``archive!member``."""
    base = Path(root) / require_not_reserved(package)
    if "!" in path:
        archive, member = path.split("!", 1)
        return _zip(base / archive).read(member)
    return (base / path).read_bytes()


@lru_cache(maxsize=8)
def _zip(path: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def package_files(root: Path, package: str) -> list[str]:
    """Audio files of one unpacked package, as paths inside it, archives' members included."""
    base = Path(root) / package
    found = []
    for path in sorted(base.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(base).as_posix()
        if relative.lower().endswith(AUDIO_SUFFIXES):
            found.append(relative)
        elif relative.lower().endswith(ARCHIVE_SUFFIXES):
            members = sorted(n for n in _zip(path).namelist() if n.lower().endswith(AUDIO_SUFFIXES))
            found += [f"{relative}!{member}" for member in members]
    return found


def group_key(package: str, path: str) -> str:
    """Files that differ only by a trailing take number or a velocity word share a group."""
    directory, _, name = path.rpartition("/")
    stem = name.rsplit(".", 1)[0].lower()
    stem = re.sub(r"(?<![a-z])(hardest|hard|medium|med|softest|soft|up|down|dry|wet)(?![a-z])", "", stem)
    stem = re.sub(r"[\s_.\-]*\d*[\s_.\-]*$", "", stem)  # "swordman_attack12" -> "swordman_attack"
    return f"{package}/{directory}/{stem}"


def scan(root: Path, packages: tuple[str, ...] = TRAINING_PACKAGES, progress: bool = True) -> tuple[list[Entry], dict]:
    """Every usable file of ``packages`` under ``root``; also returns {reason: count} of what was skipped."""
    vocabulary = {c.label for c in ALL_CLASSES}
    entries: list[Entry] = []
    skipped: dict[str, int] = {}
    seen: set[str] = set()

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for package in packages:
        version = unpacked_version(root, package)
        if version is None:
            raise FileNotFoundError(f"{package} is not unpacked under {root}; run: make corpus-packages")
        copyright = Copyright.read(Path(root) / package, package)
        files = package_files(root, package)
        if progress:
            print(f"scanning {package}: {len(files)} audio files", flush=True)
        for path in files:
            found = classify(package, path, Path(root) / package)
            if not isinstance(found, Assignment):
                skip(found.reason)
                continue
            if found.label not in vocabulary:
                skip(f"thin class left out of the vocabulary: {found.label}")
                continue
            data = read_bytes(root, package, path)
            md5 = hashlib.md5(data).hexdigest()
            if md5 in seen:
                skip("duplicate (md5)")
                continue
            try:
                info = soundfile.info(io.BytesIO(data))
            except RuntimeError:
                skip("unreadable")
                continue
            if info.samplerate > MAX_SAMPLE_RATE:
                skip("implausible sample rate in the header")
                continue
            if info.frames / info.samplerate < MIN_SECONDS:
                skip("shorter than 50 ms")
                continue
            if info.duration <= DECODE_CHECK_SECONDS:
                audio, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
                if audio.size == 0 or float(np.max(np.abs(audio))) < SILENT_PEAK:
                    skip("silent")
                    continue
            seen.add(md5)
            entries.append(Entry(
                package=package,
                version=version,
                path=path,
                md5=md5,
                seconds=round(info.frames / info.samplerate, 3),
                sample_rate=int(info.samplerate),
                channels=int(info.channels),
                label=found.label,
                tier=found.tier,
                speaker=found.speaker,
                language=found.language,
                group=found.speaker if found.label == "speech" else group_key(package, path),
                split="",
                licence=copyright.licence_of(path),
            ))
    return assign_splits(entries), skipped


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def assign_splits(entries: list[Entry]) -> list[Entry]:
    split_of: dict[tuple[str, str], str] = {}
    # Speech: whole speakers, dealt in hash order until each held-out split has its share of minutes.
    minutes: dict[str, float] = {}
    for entry in entries:
        if entry.label == "speech":
            minutes[entry.speaker] = minutes.get(entry.speaker, 0.0) + entry.seconds / 60
    budget = HELD_OUT_SHARE * sum(minutes.values())
    held = {"test": 0.0, "valid": 0.0}
    for speaker in sorted(minutes, key=_hash):
        split = "train"
        for candidate in ("test", "valid"):
            if held[candidate] + minutes[speaker] <= budget:
                split = candidate
                held[candidate] += minutes[speaker]
                break
        split_of[("speech", speaker)] = split
    # Other classes: whole source groups in hash order, dealt to test and valid until each holds
    # about its share of the class's files (at least one group each when the class has three).
    sizes: dict[str, dict[str, int]] = {}
    for entry in entries:
        if entry.label != "speech":
            counts = sizes.setdefault(entry.label, {})
            counts[entry.group] = counts.get(entry.group, 0) + 1
    for label, counts in sizes.items():
        files = sum(counts.values())
        budget = max(1, round(HELD_OUT_SHARE * files))
        held_files = {"test": 0, "valid": 0}
        for key in sorted(counts, key=_hash):
            split = "train"
            if len(counts) >= 3:
                for candidate in ("test", "valid"):
                    fits = held_files[candidate] + counts[key] <= budget
                    first = held_files[candidate] == 0 and counts[key] <= max(budget, 0.2 * files)
                    if fits or first:
                        split = candidate
                        held_files[candidate] += counts[key]
                        break
            split_of[(label, key)] = split
    return [
        Entry(**{**asdict(e), "split": split_of[("speech", e.speaker) if e.label == "speech" else (e.label, e.group)]})
        for e in entries
    ]


def write_manifest(entries: list[Entry], path: Path = MANIFEST_PATH) -> None:
    """CSV, gzipped without a timestamp: the same entries always give the same bytes."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(FIELDS)
    for entry in sorted(entries, key=lambda e: (e.package, e.path)):
        writer.writerow([getattr(entry, name) for name in FIELDS])
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(text.getvalue().encode())


def read_manifest(path: Path = MANIFEST_PATH) -> list[Entry]:
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Entry(**{**row, "seconds": float(row["seconds"]), "sample_rate": int(row["sample_rate"]),
                 "channels": int(row["channels"])})
        for row in rows
    ]

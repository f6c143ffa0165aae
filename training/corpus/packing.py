"""Rendered pools packed into one file, to carry to a GPU machine and load without re-rendering.

Contract: ``pack_pools(root, out, splits)`` writes ``out``: a zip archive (stored, not deflated)
holding ``pool.json`` (sample rate, corpus kind, class list, and per split the class, offset and
length of every clip) and one ``<split>.<ext>`` per split, all its clips end to end as one mono
audio file. ``load_packed(out, split)`` (what ``SourcePool.load(out, split=...)`` calls) gives the
same ``SourcePool`` as loading ``root/split``: lossless codecs (``flac``, the default) give the
very same samples; ``opus`` trades exactness for a file about five times smaller.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import soundfile

from .pool import MANIFEST, SourcePool, classes_named

FORMAT = "textsep-packed-pool/1"
CODECS = {  # name -> (soundfile format, subtype, file extension)
    "flac": ("FLAC", "PCM_16", "flac"),
    "opus": ("OGG", "OPUS", "opus"),
}


def pack_pools(root: Path, out: Path, splits: tuple[str, ...] = ("train", "valid"), codec: str = "flac") -> Path:
    """Pack ``root/<split>`` for each split into the single file ``out``."""
    audio_format, subtype, extension = CODECS[codec]
    index: dict = {"format": FORMAT, "codec": codec, "splits": {}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for split in splits:
            pool = SourcePool.load(Path(root) / split)
            manifest = json.loads((Path(root) / split / MANIFEST).read_text())
            for key, value in (("sample_rate", pool.sample_rate), ("corpus", pool.kind),
                               ("classes", [c.label for c in pool.classes])):
                if index.setdefault(key, value) != value:
                    raise ValueError(f"{split} has {key}={value!r}, the other splits {index[key]!r}")
            clips, pieces, offset = [], [], 0
            for class_index, class_clips in enumerate(pool.clips):
                for audio in class_clips:
                    clips.append([pool.classes[class_index].label, offset, len(audio)])
                    pieces.append(audio)
                    offset += len(audio)
            buffer = io.BytesIO()
            soundfile.write(buffer, np.concatenate(pieces), pool.sample_rate, format=audio_format, subtype=subtype)
            archive.writestr(f"{split}.{extension}", buffer.getvalue())
            index["splits"][split] = {"clips": clips, "seed": manifest.get("seed")}
        archive.writestr("pool.json", json.dumps(index))
    partial.replace(out)
    return out


def load_packed(path: Path, split: str) -> SourcePool:
    with zipfile.ZipFile(path) as archive:
        index = json.loads(archive.read("pool.json"))
        if index.get("format") != FORMAT:
            raise ValueError(f"{path} is not a packed pool ({FORMAT})")
        if split not in index["splits"]:
            raise KeyError(f"{path} holds the splits {sorted(index['splits'])}, not {split!r}")
        extension = CODECS[index["codec"]][2]
        audio, rate = soundfile.read(io.BytesIO(archive.read(f"{split}.{extension}")), dtype="int16")
    if rate != index["sample_rate"]:
        raise ValueError(f"{path}: {split} is at {rate} Hz, the index says {index['sample_rate']} Hz")
    classes = classes_named(index["classes"])
    labels = [c.label for c in classes]
    clips: list[list[np.ndarray]] = [[] for _ in classes]
    for label, offset, length in index["splits"][split]["clips"]:
        clips[labels.index(label)].append(np.ascontiguousarray(audio[offset : offset + length]))
    return SourcePool(Path(path), index["sample_rate"], clips, classes, index["corpus"])

"""The bytes of a separation's answer, shared by the /separate handler and the CLI: stem names from
queries, which stems a mode answers, stems in a ZIP with a manifest, and a WAV's bytes streamed
while its windows finish. The arrays (windows, overlap-add, residual) are the model's plan's."""

from __future__ import annotations

import io
import json
import re
import stat
import struct
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import soundfile as sf

from model.plan import Mode, Stems, answered
from service import audio

RESIDUAL = "residual"
MAX_NAME_CHARS = 60
ZIP_TYPE = "application/zip"


def slug(text: str, fallback: str) -> str:
    """A safe file name part: ASCII, lowercase, [a-z0-9] runs joined by `-`, truncated."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:MAX_NAME_CHARS].strip("-") or fallback


def stem_names(queries: list[str]) -> list[str]:
    """File names (no extension) from queries, as `slug`s unique among themselves and `residual`
    ("A dog barking!" -> "a-dog-barking")."""
    taken, names = {RESIDUAL, "manifest"}, []
    for query in queries:
        base = slug(query, "query")
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base}-{copy}"
        taken.add(name)
        names.append(name)
    return names


def chosen_names(names: list[str], mode: Mode) -> list[str]:
    """The stems a mode answers, by name (as `SeparationPlan.finish` makes them): the targets unless
    `remove`, and `residual` for `remove`, `both` and several queries."""
    with_targets, with_residual = answered(mode, len(names))
    return [*(names if with_targets else []), *([RESIDUAL] if with_residual else [])]


def named(names: list[str], stems: Stems) -> dict[str, np.ndarray]:
    """name -> samples of every stem a separation answered, targets first, `residual` last."""
    by_name = dict(zip(names, stems.targets))
    if stems.residual is not None:
        by_name[RESIDUAL] = stems.residual
    return by_name


def attachment(upload_name: str | None, answer_name: str) -> str:
    """Content-Disposition of an answer, named after the upload and what it holds
    (`speech-and-piano-piano.wav`, `speech-and-piano-stems.zip`); a slug, so plain ASCII."""
    return f'attachment; filename="{slug(PurePath(upload_name or "").stem, "upload")}-{answer_name}"'


def zip_stems(files: dict[str, bytes], manifest: dict) -> bytes:
    """A ZIP of the files and `manifest.json`; stored, not deflated (audio barely compresses).
    Entries are regular files, mode 0644, dated now: `unzip` and file managers treat them as such
    (writestr's default leaves no Unix mode, which some tools unpack as mode 0000)."""
    buffer = io.BytesIO()
    now = time.localtime()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in [*files.items(), ("manifest.json", json.dumps(manifest, indent=2).encode())]:
            entry = zipfile.ZipInfo(name, date_time=now)
            entry.create_system = 3  # Unix, so that the mode below is read
            entry.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(entry, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Encoded:
    body: bytes
    media_type: str
    name: str  # the answer's file name, without the upload's: `piano.wav`, `stems.zip`
    clipped_samples: int  # samples beyond full scale that a PCM answer had to clip


def encode_stems(
    chosen: dict[str, np.ndarray], queries: dict[str, str], mode: Mode, sample_rate: int, format: str, subtype: str,
    query_audio: str | None = None, classes: dict[str, dict] | None = None,
) -> Encoded:  # fmt: skip
    """One file as itself, several as a ZIP with `manifest.json`. `queries`: stem name -> its text
    query; `query_audio`: the example recording's file name, if one was given; `classes`: stem name
    -> its query's nearest known sound (closed-vocabulary models)."""
    files = {
        f"{name}.{format}": audio.encode(samples, sample_rate, format, subtype) for name, samples in chosen.items()
    }
    clipped = sum(audio.clipped_samples(samples, subtype) for samples in chosen.values())
    if len(files) == 1:
        (name, body), = files.items()
        return Encoded(body, audio.OUTPUT_FORMATS[format][1], name, clipped)
    channels, frames = next(iter(chosen.values())).shape
    manifest = {
        "mode": mode,
        "sample_rate": sample_rate,
        "frames": frames,
        "channels": channels,
        "subtype": subtype,
        "query_audio": query_audio,
        "files": [
            {
                "name": f"{name}.{format}",
                "kind": RESIDUAL if name == RESIDUAL else "target",
                "query": queries.get(name),
                **({"nearest_class": classes[name]} if classes and name in classes else {}),
            }
            for name in chosen
        ],
    }
    return Encoded(zip_stems(files, manifest), ZIP_TYPE, "stems.zip", clipped)


class StreamedWav:
    """The bytes of a WAV written while its windows finish: the header first, with the exact frame
    count (known from the upload), then each piece of samples as the plan's stream makes it final.
    PCM_16 bytes equal the whole-file answer's; FLOAT gets a plain header, without the PEAK chunk
    libsndfile adds."""

    def __init__(self, upload: audio.Upload, subtype: str):
        self.upload, self.subtype = upload, subtype

    def header(self) -> bytes:
        """RIFF/WAVE with a `fmt ` chunk (PCM or IEEE float) and the `data` chunk's exact size."""
        width = 2 if self.subtype == "PCM_16" else 4
        tag = 1 if self.subtype == "PCM_16" else 3
        channels, rate = self.upload.channels, self.upload.sample_rate
        data = self.upload.frames * channels * width
        block = channels * width
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, 8 * width)
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data)
        return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data) + b"WAVE" + chunks

    def samples(self, piece: np.ndarray) -> bytes:
        """[C, k] samples -> their bytes in the data chunk (libsndfile's conversion)."""
        buffer = io.BytesIO()
        sf.write(buffer, piece.T, self.upload.sample_rate, format="RAW", subtype=self.subtype)
        return buffer.getvalue()

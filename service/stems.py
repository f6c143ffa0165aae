"""The array and byte work of a separation, shared by the /separate handler and the CLI: windows
in the order a stream is written, one batcher job for several queries, the windows back to audio,
the residual (the upload minus the targets), stems in a ZIP with a manifest, and a WAV streamed
while its windows finish."""

from __future__ import annotations

import io
import json
import re
import struct
import unicodedata
import zipfile
from typing import Literal

import numpy as np
import soundfile as sf
import soxr
import torch

from model.chunking import Chunking, StreamingMerge
from model.separator import Separator, fit_length, resample
from service import audio

Mode = Literal["extract", "remove", "both"]
RESIDUAL = "residual"
MAX_NAME_CHARS = 60
ZIP_TYPE = "application/zip"


def split_windows(chunking: Chunking, at_model_rate: np.ndarray) -> torch.Tensor:
    """[channels, frames] -> [n x channels, window]: window 0 of every channel, then window 1, ...
    (each channel is a mono signal of its own; this order lets a stream write window i once it is in)."""
    chunks = chunking.split(torch.from_numpy(at_model_rate))  # [channels, n, window]
    return chunks.transpose(0, 1).reshape(-1, chunks.shape[-1])


def per_query(windows: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window once per query ([Q, D] conditions), with its query's condition, so that one
    batcher job separates them all: ([Q x n, window], [Q x n, D])."""
    return windows.repeat(len(conditions), 1), conditions.repeat_interleave(len(windows), dim=0)


def restore(separated: torch.Tensor, separator: Separator, model_frames: int, upload: audio.Upload) -> list[np.ndarray]:
    """A job's separated windows (`per_query`'s order, at the model rate) -> one [channels, frames]
    array per query, at the upload's rate and exact length."""
    targets = []
    for rows in separated.split(separator.chunking.count(model_frames) * upload.channels):
        windows = rows.reshape(-1, upload.channels, rows.shape[-1]).transpose(0, 1)
        merged = separator.chunking.merge(windows, model_frames)
        targets.append(fit_length(resample(merged.numpy(), separator.sample_rate, upload.sample_rate), upload.frames))
    return targets


def stem_names(queries: list[str]) -> list[str]:
    """File names (no extension) from queries: ASCII, lowercase, [a-z0-9] runs joined by `-`,
    truncated, and unique among themselves and `residual` ("A dog barking!" -> "a-dog-barking")."""
    taken, names = {RESIDUAL, "manifest"}, []
    for query in queries:
        ascii_text = unicodedata.normalize("NFKD", query).encode("ascii", "ignore").decode().lower()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:MAX_NAME_CHARS].strip("-") or "query"
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base}-{copy}"
        taken.add(name)
        names.append(name)
    return names


def residual(mixture: np.ndarray, targets: list[np.ndarray]) -> np.ndarray:
    """What is left of the mixture once every target is taken out: residual + sum(targets) = mixture."""
    return mixture - np.sum(targets, axis=0, dtype=np.float32)


def chosen_names(names: list[str], mode: Mode) -> list[str]:
    """The stems a mode answers. Extract: the targets, and with several queries the residual too;
    remove: the residual alone; both: the targets and the residual."""
    chosen = names if mode != "remove" else []
    return [*chosen, RESIDUAL] if mode != "extract" or len(names) > 1 else chosen


def stems(names: list[str], targets: list[np.ndarray], mixture: np.ndarray, mode: Mode) -> dict[str, np.ndarray]:
    """name -> samples of every stem the mode answers (`chosen_names`)."""
    by_name = dict(zip(names, targets))
    return {
        name: residual(mixture, targets) if name == RESIDUAL else by_name[name] for name in chosen_names(names, mode)
    }


def zip_stems(files: dict[str, bytes], manifest: dict) -> bytes:
    """A ZIP of the files and `manifest.json`; stored, not deflated (audio barely compresses)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return buffer.getvalue()


def encode_stems(
    chosen: dict[str, np.ndarray], queries: dict[str, str], mode: Mode, sample_rate: int, format: str, subtype: str,
    query_audio: str | None = None,
) -> tuple[bytes, str]:  # fmt: skip
    """(body, Content-Type): one file as itself, several as a ZIP with `manifest.json`. `queries`:
    stem name -> its text query; `query_audio`: the example recording's file name, if one was given."""
    files = {
        f"{name}.{format}": audio.encode(samples, sample_rate, format, subtype) for name, samples in chosen.items()
    }
    if len(files) == 1:
        return next(iter(files.values())), audio.OUTPUT_FORMATS[format][1]
    channels, frames = next(iter(chosen.values())).shape
    manifest = {
        "mode": mode,
        "sample_rate": sample_rate,
        "frames": frames,
        "channels": channels,
        "subtype": subtype,
        "query_audio": query_audio,
        "files": [
            {"name": f"{name}.{format}", "kind": RESIDUAL if name == RESIDUAL else "target", "query": queries.get(name)}
            for name in chosen
        ],
    }
    return zip_stems(files, manifest), ZIP_TYPE


class StreamedWav:
    """A WAV written while its windows finish: the header first, with the exact frame count (known
    from the upload), then the samples of each window as it becomes final, overlap-added and
    resampled incrementally (soxr's stream gives one-shot soxr's exact samples), and subtracted
    from the upload if `remove`. PCM_16 bytes equal the whole-file answer's; FLOAT gets a plain
    header, without the PEAK chunk libsndfile adds."""

    def __init__(self, separator: Separator, model_frames: int, upload: audio.Upload, subtype: str, remove: bool):
        self.upload, self.subtype, self.remove = upload, subtype, remove
        self.merge = StreamingMerge(separator.chunking, model_frames)
        self.windows = separator.chunking.count(model_frames)
        self.pushed = self.written = 0
        rates = separator.sample_rate, upload.sample_rate
        self.resampler = None if rates[0] == rates[1] else soxr.ResampleStream(*rates, upload.channels, "float32")

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

    def push(self, window: torch.Tensor) -> bytes:
        """The next window ([channels, window] at the model rate) -> the sample bytes it completes."""
        self.pushed += 1
        last = self.pushed == self.windows
        piece = np.ascontiguousarray(self.merge.push(window).numpy().T)  # [frames, channels]
        if self.resampler is not None:
            piece = self.resampler.resample_chunk(piece, last=last)
        frames, written = self.upload.frames, self.written
        piece = piece[: frames - written]
        if last:  # resampling rounds lengths: pad to the upload's exact length, as `fit_length` does
            piece = np.pad(piece, [(0, frames - written - len(piece)), (0, 0)])
        self.written += len(piece)
        if self.remove:
            piece = residual(self.upload.samples[:, written : self.written].T, [piece])
        buffer = io.BytesIO()
        sf.write(buffer, piece, self.upload.sample_rate, format="RAW", subtype=self.subtype)  # libsndfile's conversion
        return buffer.getvalue()

"""`Separator`: a text encoder, a ResUNet and the model's sample rate, ready for inference.

Two entry points:
- `separate(waveform, sample_rate, query)` for in-process use: any rate, any length, mono or
  multi-channel; returns the same shape at the same rate.
- `separate_chunks(chunks[B, T], embeddings[B, D])`, the batched primitive the service calls; every
  item carries its own condition, so one batch can mix queries and requests.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import soxr
import torch

from model.checkpoint import load_audiosep_resunet, load_checkpoint
from model.chunking import Chunking
from model.resunet import ResUNet, ResUNetConfig
from model.text import MiniLMEncoder, TextEncoder

WEIGHTS_DIR = Path(__file__).parent / "weights"
PRETRAINED = {"bundled": WEIGHTS_DIR / "bundled-small.pt"}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """[channels, samples] float32 -> [channels, samples'] with soxr's high-quality filter."""
    if from_rate == to_rate:
        return audio
    return np.ascontiguousarray(soxr.resample(audio.T, from_rate, to_rate).T, dtype=np.float32).reshape(
        audio.shape[0], -1
    )


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the last axis to exactly `length` (resampling rounds lengths)."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])


def grid_aligned_chunking(config: ResUNetConfig, chunk_seconds: float, overlap_seconds: float) -> Chunking:
    """Window and overlap rounded to multiples of hop x time pooling, so that every window (but a
    moved last one) sees the STFT frames and pooling cells a one-pass run would: seams then differ
    from one pass only by the context the window lacks."""
    grid = config.hop_length * config.time_multiple
    window = max(1, round(chunk_seconds * config.sample_rate / grid)) * grid
    overlap = round(overlap_seconds * config.sample_rate / grid) * grid
    return Chunking(window, min(overlap, window // 2 // grid * grid))


class Separator:
    def __init__(
        self,
        model: ResUNet,
        encoder: TextEncoder,
        device: str | torch.device | None = None,
        dtype: str = "float32",
        chunk_seconds: float = 10.0,
        overlap_seconds: float = 1.0,
    ):
        """`chunk_seconds`/`overlap_seconds`: the fixed window every input is cut into (the unit of
        batching) and its cross-fade, rounded to the network's grid (see `grid_aligned_chunking`);
        longer overlap costs throughput, shorter gives seams."""
        if model.config.condition_size != encoder.dim:
            raise ValueError(
                f"text encoder {encoder.name} gives {encoder.dim}-d embeddings; "
                f"the network expects {model.config.condition_size}"
            )
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.device = torch.device(device) if device is not None else default_device()
        if dtype == "float16" and self.device.type != "cuda":
            raise ValueError("float16 needs a CUDA device; use bfloat16 or float32 on CPU")
        self.dtype = dtype
        self.model = model.eval().to(self.device)
        self.encoder = encoder
        self.chunking = grid_aligned_chunking(model.config, chunk_seconds, overlap_seconds)

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name: str = "bundled", **options) -> Separator:
        """A model shipped with the package; no network, no extra step."""
        if name not in PRETRAINED:
            raise ValueError(f"unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED)}")
        return cls.from_checkpoint(PRETRAINED[name], **options)

    @classmethod
    def from_checkpoint(cls, path: Path | str, setting: str | None = None, **options) -> Separator:
        """A project checkpoint; its metadata names the text encoder it was trained with."""
        model, metadata = load_checkpoint(path, setting)
        encoder_name = metadata.get("text_encoder", MiniLMEncoder.name)
        if encoder_name != MiniLMEncoder.name:
            raise ValueError(f"{path} was trained with text encoder {encoder_name!r}, which cannot be built here")
        device = options.get("device") or default_device()
        for key in ("chunk_seconds", "overlap_seconds"):  # the checkpoint's own default window
            if options.get(key) is None and key in metadata:
                options[key] = metadata[key]
        return cls(model, MiniLMEncoder(device=device), **options)

    @classmethod
    def from_audiosep(
        cls, checkpoint: Path | str, clap_checkpoint: Path | str, tokenizer_dir: Path | str, **options
    ) -> Separator:
        """The official release: AudioSep checkpoint + LAION-CLAP checkpoint + RoBERTa tokenizer files."""
        from model.clap import ClapTextEncoder

        model = load_audiosep_resunet(checkpoint)
        device = options.get("device") or default_device()
        encoder = ClapTextEncoder(clap_checkpoint, tokenizer_dir, device=device)
        return cls(model, encoder, **options)

    # ---- inference ----------------------------------------------------------------------------

    def autocast(self):
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def embed(self, queries: list[str]) -> torch.Tensor:
        with torch.inference_mode():
            return self.encoder.encode(list(queries)).float().to(self.device)

    def separate_chunks(self, chunks: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """[B, T] waveforms at the model rate + [B, D] conditions -> [B, T] separated waveforms."""
        with torch.inference_mode(), self.autocast():
            out = self.model(chunks.to(self.device, torch.float32)[:, None], embeddings.to(self.device))
        return out[:, 0].float()

    def separate(
        self, waveform: np.ndarray | torch.Tensor, sample_rate: int, query: str, batch_size: int = 4, progress=None
    ) -> np.ndarray:
        """[T] or [channels, T] at any rate -> the target sound, same shape and rate.

        Each channel is separated as its own mono signal (the network is mono). `progress`, if
        given, is called as progress(windows_done, windows_total) after every batch.
        """
        audio = np.asarray(waveform, dtype=np.float32)
        mono = audio.ndim == 1
        audio = audio[None] if mono else audio
        length = audio.shape[-1]
        at_model_rate = torch.from_numpy(resample(audio, sample_rate, self.sample_rate))
        chunks = self.chunking.split(at_model_rate)  # [channels, n, window]
        flat = chunks.reshape(-1, self.chunking.window)
        condition = self.embed([query])
        outputs = []
        for start in range(0, flat.shape[0], batch_size):
            batch = flat[start : start + batch_size]
            outputs.append(self.separate_chunks(batch, condition.expand(batch.shape[0], -1)).cpu())
            if progress is not None:
                progress(start + batch.shape[0], flat.shape[0])
        separated = self.chunking.merge(torch.cat(outputs).reshape(chunks.shape), at_model_rate.shape[-1])
        result = fit_length(resample(separated.numpy(), self.sample_rate, sample_rate), length)
        return result[0] if mono else result

"""`Separator`: a text encoder, a ResUNet and the model's sample rate, ready for inference.

Entry points:
- `separate(waveform, sample_rate, query, mode)` and `separate_stems(waveform, sample_rate,
  queries, mode)` for in-process use: any rate, any length, mono or multi-channel; the same shape
  at the same rate comes back. Both are `plan` -> `run` (batches of `separate_chunks`) -> finish.
- `plan(samples, rate, conditions, mode)`: the `SeparationPlan` (model/plan.py) every caller uses;
  the service runs its chunks through its batcher instead of `run`.
- `separate_chunks(chunks[B, T], embeddings[B, D])`, the batched primitive (`self.network`,
  model/network.py); every item carries its own condition, so one batch can mix queries and requests.

A condition comes from a text (`embed`), from an example recording of the wanted sound
(`embed_audio`, query by example), or from both (`joint_condition`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from model.checkpoint import load_audiosep_resunet, load_checkpoint
from model.chunking import Chunking
from model.encoders.text import MiniLMEncoder, TextEncoder
from model.network import Network, default_device
from model.plan import Mode, SeparationPlan, Stems, resample
from model.resunet import ResUNet, ResUNetConfig
from model.vocabulary import Vocabulary

WEIGHTS_DIR = Path(__file__).parent / "weights"
PRETRAINED = {"bundled": WEIGHTS_DIR / "bundled-small.pt"}
QUERY_AUDIO = {"bundled": WEIGHTS_DIR / "bundled-small-query-audio.pt"}  # its audio-query encoder
# The window a shipped model runs in, measured (`python -m bench.overlap`): the least model work per
# uploaded second on the bench's clip mix whose answers stay within -40 dB (error energy) of one pass
# over the whole signal. The checkpoint's own (4 s, 0.5 s: what training wrote) needed 1.234 s of
# model audio per uploaded second for that; 8.192 s with 0.512 s of cross-fade needs 1.034 (-48.7 dB).
PRETRAINED_WINDOWS = {"bundled": {"chunk_seconds": 8.192, "overlap_seconds": 0.512}}


def grid_aligned_chunking(config: ResUNetConfig, chunk_seconds: float, overlap_seconds: float) -> Chunking:
    """Window and overlap rounded to multiples of hop x time pooling, so that every window (but a
    moved last one) sees the STFT frames and pooling cells a one-pass run would: seams then differ
    from one pass only by the context the window lacks."""
    grid = config.hop_length * config.time_multiple
    window = max(1, round(chunk_seconds * config.sample_rate / grid)) * grid
    overlap = round(overlap_seconds * config.sample_rate / grid) * grid
    return Chunking(window, min(overlap, window // 2 // grid * grid), grid)


class QueryByExampleUnavailable(ValueError):
    """The loaded model has no encoder for example recordings, only for text."""


class AudioQueryEncoder(Protocol):
    """An example recording -> a condition in the text encoder's space (`ClapAudioEncoder`,
    `QueryAudioEncoder`)."""

    name: str
    dim: int
    sample_rate: int
    max_seconds: float  # what it reads of an example; the rest is never looked at

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor: ...


def joint_condition(text: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    """The condition for a text and an example recording together: their normalised mean.

    Both are unit vectors in one space; the mean renormalised is the midpoint on the sphere, so it
    keeps the unit norm every condition the network was trained on has, weighs the two queries
    equally, and is as close to each as any single vector can be to both.
    """
    return F.normalize(text + audio, dim=-1)


class Separator:
    def __init__(
        self,
        model: ResUNet,
        encoder: TextEncoder,
        device: str | torch.device | None = None,
        dtype: str = "float32",
        chunk_seconds: float = 10.0,
        overlap_seconds: float = 1.0,
        audio_encoder: AudioQueryEncoder | None = None,
        vocabulary: Vocabulary | None = None,
    ):
        """`chunk_seconds`/`overlap_seconds`: the fixed window every input is cut into (the unit of
        batching) and its cross-fade, rounded to the network's grid (see `grid_aligned_chunking`);
        longer overlap costs throughput, shorter gives seams. `audio_encoder`: embeds example
        recordings into the text encoder's space (query by example); None if the model has none.
        `vocabulary`: the classes a closed-vocabulary model knows (model/vocabulary.py); None: open."""
        for kind, query_encoder in (("text", encoder), ("audio-query", audio_encoder)):
            if query_encoder is not None and query_encoder.dim != model.config.condition_size:
                raise ValueError(
                    f"{kind} encoder {query_encoder.name} gives {query_encoder.dim}-d embeddings; "
                    f"the network expects {model.config.condition_size}"
                )
        self.network = Network(model, device, dtype)
        self.device, self.dtype, self.model = self.network.device, dtype, self.network.model
        self.encoder = encoder
        self.audio_encoder = audio_encoder
        self.vocabulary = vocabulary
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
        for key, value in PRETRAINED_WINDOWS.get(name, {}).items():
            if options.get(key) is None:
                options[key] = value
        return cls.from_checkpoint(PRETRAINED[name], query_audio=QUERY_AUDIO.get(name), **options)

    @classmethod
    def from_checkpoint(
        cls, path: Path | str, query_audio: Path | str | None = None, **options
    ) -> Separator:
        """A project checkpoint; its metadata names the text encoder it was trained with.
        `query_audio`: an audio-query encoder trained into that encoder's space (`model.encoders.query_audio`)."""
        from model.encoders.query_audio import QueryAudioEncoder

        model, metadata = load_checkpoint(path)
        encoder_name = metadata.get("text_encoder", MiniLMEncoder.name)
        if encoder_name != MiniLMEncoder.name:
            raise ValueError(f"{path} was trained with text encoder {encoder_name!r}, which cannot be built here")
        device = options.get("device") or default_device()
        for key in ("chunk_seconds", "overlap_seconds"):  # the checkpoint's own default window
            if options.get(key) is None and key in metadata:
                options[key] = metadata[key]
        audio_encoder = QueryAudioEncoder(query_audio, device) if query_audio is not None else None
        if audio_encoder is not None and audio_encoder.text_space != encoder_name:
            raise ValueError(
                f"{query_audio} embeds into the space of {audio_encoder.text_space!r}, not of {encoder_name!r}"
            )
        encoder = MiniLMEncoder(device=device)
        vocabulary = Vocabulary.from_metadata(metadata, encoder.encode)
        return cls(model, encoder, audio_encoder=audio_encoder, vocabulary=vocabulary, **options)

    @classmethod
    def from_audiosep(
        cls, checkpoint: Path | str, clap_checkpoint: Path | str, tokenizer_dir: Path | str, **options
    ) -> Separator:
        """The official release: AudioSep checkpoint + LAION-CLAP checkpoint + RoBERTa tokenizer files.
        Both CLAP towers are built from the one file: text queries and queries by example."""
        from model.encoders.clap import ClapAudioEncoder, ClapTextEncoder, load_laion_clap_state_dict

        model = load_audiosep_resunet(checkpoint)
        device = options.get("device") or default_device()
        clap_state = load_laion_clap_state_dict(clap_checkpoint)  # read once, for both towers
        encoder = ClapTextEncoder(clap_state, tokenizer_dir, device=device)
        return cls(model, encoder, audio_encoder=ClapAudioEncoder(clap_state, device=device), **options)

    # ---- inference ----------------------------------------------------------------------------

    def autocast(self):
        return self.network.autocast()

    def embed(self, queries: list[str]) -> torch.Tensor:
        with torch.inference_mode():
            return self.encoder.encode(list(queries)).float().to(self.device)

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> torch.Tensor:
        """An example recording [channels, frames] at any rate -> its condition [D], in the space
        and norm of `embed`'s rows. Channels are averaged: a query names a sound, not a position."""
        if self.audio_encoder is None:
            raise QueryByExampleUnavailable(
                "this model has no audio-query encoder, so it cannot take an example recording as the "
                "query; use a text query"
            )
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[-1] == 0:
            raise ValueError(f"expected a non-empty [channels, frames] recording, got shape {audio.shape}")
        if not np.isfinite(audio).all():
            raise ValueError("the example recording holds NaN or infinite samples")
        read = audio[:, : math.ceil(self.audio_encoder.max_seconds * sample_rate)]  # resample only what is read
        mono = resample(read.mean(axis=0, keepdims=True), sample_rate, self.audio_encoder.sample_rate)
        with torch.inference_mode():
            return self.audio_encoder.encode_audio(torch.from_numpy(mono))[0].float().to(self.device)

    def separate_chunks(self, chunks: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """[B, T] waveforms at the model rate + [B, D] conditions -> [B, T] separated waveforms."""
        return self.network(chunks, embeddings)

    def plan(self, samples: np.ndarray, sample_rate: int, conditions: torch.Tensor, mode: Mode = "extract") -> SeparationPlan:
        """[C, T] samples at any rate + [Q, D] conditions -> the plan every caller runs (`model.plan`)."""
        return SeparationPlan(samples, sample_rate, conditions, self.chunking, self.sample_rate, mode)

    def run(self, plan: SeparationPlan, batch_size: int = 4, progress=None) -> Stems:
        """A plan's rows through `separate_chunks` in batches of up to `batch_size` rows of one length,
        in-process, then `plan.finish`. `progress`, if given, is called as progress(rows_done, rows_total)."""
        by_length = defaultdict(list)  # a batch holds rows of one length
        for row, length in enumerate(plan.lengths):
            by_length[int(length)].append(row)
        separated: list[torch.Tensor | None] = [None] * len(plan)
        done = 0
        for rows in by_length.values():
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                chunks = torch.stack([plan.chunk(row) for row in batch])  # [B, length]
                for row, out in zip(batch, self.separate_chunks(chunks, plan.conditions[batch]).cpu()):
                    separated[row] = out
                done += len(batch)
                if progress is not None:
                    progress(done, len(plan))
        return plan.finish(separated)

    def separate_stems(
        self, waveform: np.ndarray, sample_rate: int, queries: list[str], mode: Mode = "extract", **options
    ) -> Stems:
        """[C, T] at any rate, several text queries -> `Stems` as the service answers them: a target
        per query (not for `remove`) and the residual (for `remove`, `both`, several queries)."""
        plan = self.plan(np.asarray(waveform, dtype=np.float32), sample_rate, self.embed(queries), mode)
        return self.run(plan, **options)

    def separate(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int,
        query: str,
        mode: Literal["extract", "remove"] = "extract",
        batch_size: int = 4,
        progress=None,
    ) -> np.ndarray:
        """[T] or [channels, T] at any rate -> the queried sound (`extract`) or the input without it
        (`remove`), same shape and rate. Each channel is separated as its own mono signal."""
        if mode not in ("extract", "remove"):
            raise ValueError(f"separate answers one sound (mode extract or remove); for {mode!r} use separate_stems")
        audio = np.asarray(waveform, dtype=np.float32)
        mono = audio.ndim == 1
        stems = self.separate_stems(audio[None] if mono else audio, sample_rate, [query], mode,
                                    batch_size=batch_size, progress=progress)  # fmt: skip
        result = stems.residual if mode == "remove" else stems.targets[0]
        return result[0] if mono else result

"""LAION-CLAP (HTSAT-base + RoBERTa-base), the query encoder of the official AudioSep model.

The networks are `transformers`' CLAP classes built from a config, with no network access; their
weights come from the LAION checkpoint `music_speech_audioset_epoch_15_esc_89.98.pt` by renaming keys.
The renaming is total: every tensor of the built tower comes from the file, and every tensor of the
file is either used or dropped by a rule that says why (`map_laion_clap_state_dict`). Anything else
is an error that lists the keys.

Both towers embed into the same 512-d space: `ClapTextEncoder` turns a text query into the FiLM
condition, `ClapAudioEncoder` does the same for an example recording (48 kHz).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from model.checkpoint import StateDictMismatch, load_state_dict_file
from model.files import require_file

CLAP_NAME = "laion-clap-htsat-base-roberta"
CLAP_DIM = 512

Tower = Literal["text", "audio"]
StateDict = Mapping[str, torch.Tensor]
Checkpoint = Path | str | StateDict  # a file, or its tensors from `load_laion_clap_state_dict`


# ---- the checkpoint file --------------------------------------------------------------------------

DDP_PREFIX = "module."
# A buffer of the RoBERTa of older transformers versions; the maintained LAION loader deletes it too.
FILE_ONLY_BUFFER = "text_branch.embeddings.position_ids"


def load_laion_clap_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The LAION-CLAP tensors of a checkpoint file, without the DDP `module.` prefix.

    Accepts the training file (`{"state_dict": ...}`) as well as a bare state dict.
    """
    path = require_file(path, "LAION-CLAP checkpoint")
    state = load_state_dict_file(path)
    state = {key.removeprefix(DDP_PREFIX): tensor for key, tensor in state.items()}
    state.pop(FILE_ONLY_BUFFER, None)
    if not any(key.startswith(("text_branch.", "audio_branch.")) for key in state):
        raise ValueError(f"{path} has no 'text_branch.*' or 'audio_branch.*' tensors: is it a LAION-CLAP checkpoint?")
    return state


# ---- LAION names -> transformers names ------------------------------------------------------------

# File tensors that no tower built here reads, and why.
NEVER_LOADED = (
    (r"(text|audio)_transform\.", "training-only MLP of the contrastive loss"),
    (r"logit_scale_[at]$", "training-only temperature of the contrastive loss"),
    (r"audio_branch\.(tscam_conv|head)\.", "HTSAT's AudioSet classifier, not on the embedding path"),
    (r"audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask$", "shifted-window mask, recomputed by transformers"),
    (
        r"audio_branch\.layers\.\d+\.blocks\.\d+\.attn\.relative_position_index$",
        "fixed index, recomputed by transformers",
    ),
)
OTHER_TOWER = {
    "text": (r"audio_(branch|projection)\.", "audio tower not built"),
    "audio": (r"text_(branch|projection)\.", "text tower not built"),
}
# Buffers the transformers modules make themselves from their config: never looked for in the file.
NETWORK_OWN_BUFFERS = re.compile(r"(embeddings\.position_ids|embeddings\.token_type_ids|relative_position_index)$")

# File prefix -> network prefix; the longest matching prefix wins.
RENAMES: dict[str, dict[str, str]] = {
    "text": {
        "text_branch.": "text_model.",
        "text_projection.0.": "text_projection.linear1.",
        "text_projection.2.": "text_projection.linear2.",
    },
    "audio": {
        "audio_branch.spectrogram_extractor.stft.conv_real.weight": "log_mel.stft_real",
        "audio_branch.spectrogram_extractor.stft.conv_imag.weight": "log_mel.stft_imag",
        "audio_branch.logmel_extractor.melW": "log_mel.mel_filterbank",
        "audio_branch.bn0.": "htsat.audio_model.audio_encoder.batch_norm.",
        "audio_branch.": "htsat.audio_model.audio_encoder.",
        "audio_projection.0.": "htsat.audio_projection.linear1.",
        "audio_projection.2.": "htsat.audio_projection.linear2.",
    },
}
# Inside one Swin block of HTSAT: LAION's (timm-style) names -> transformers' names.
SWIN_BLOCK = re.compile(r"(.*\.layers\.\d+\.blocks\.\d+\.)(.*)")
SWIN_BLOCK_RENAMES = {
    "norm1.": "layernorm_before.",
    "norm2.": "layernorm_after.",
    "attn.relative_position_bias_table": "attention.self.relative_position_bias_table",
    "attn.proj.": "attention.output.dense.",
    "mlp.fc1.": "intermediate.dense.",
    "mlp.fc2.": "output.dense.",
}
FUSED_QKV = "attn.qkv."


def rename_prefix(key: str, renames: Mapping[str, str]) -> str | None:
    for old in sorted(renames, key=len, reverse=True):
        if key.startswith(old):
            return renames[old] + key[len(old) :]
    return None


def network_tensors(key: str, tensor: torch.Tensor, tower: Tower) -> list[tuple[str, torch.Tensor]] | None:
    """The network tensor(s) one file tensor becomes; None when no rule covers the key."""
    target = rename_prefix(key, RENAMES[tower])
    if target is None:
        return None
    block = SWIN_BLOCK.fullmatch(target)
    if block is None:
        return [(target, tensor)]
    prefix, name = block.groups()
    if name.startswith(FUSED_QKV):
        # LAION keeps query, key and value in one linear layer, stacked in that order on the output axis.
        suffix = name[len(FUSED_QKV) :]
        parts = ("query", "key", "value")
        return [(f"{prefix}attention.self.{part}.{suffix}", chunk) for part, chunk in zip(parts, tensor.chunk(3))]
    return [(prefix + (rename_prefix(name, SWIN_BLOCK_RENAMES) or name), tensor)]


@dataclass
class ClapStateMapping:
    """What `map_laion_clap_state_dict` made of a file for one tower."""

    tower: Tower
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # network key -> tensor
    sources: dict[str, str] = field(default_factory=dict)  # network key -> file key it came from
    dropped: dict[str, str] = field(default_factory=dict)  # file key -> why it is not loaded
    unknown: list[str] = field(default_factory=list)  # file keys no rule covers

    def mismatches(self, network: nn.Module) -> tuple[list[str], list[str], list[str]]:
        """(missing, unexpected, mis-shaped) against the network; all empty when the mapping is total."""
        expected = {k: v for k, v in network.state_dict().items() if not NETWORK_OWN_BUFFERS.search(k)}
        missing = sorted(set(expected) - set(self.tensors))
        unexpected = sorted(self.unknown + [f"{self.sources[k]} -> {k}" for k in self.tensors if k not in expected])
        misshaped = sorted(
            f"{self.sources[k]} -> {k} (file {tuple(tensor.shape)}, network {tuple(expected[k].shape)})"
            for k, tensor in self.tensors.items()
            if k in expected and tensor.shape != expected[k].shape
        )
        return missing, unexpected, misshaped

    def load_into(self, network: nn.Module, source: str) -> None:
        missing, unexpected, misshaped = self.mismatches(network)
        if missing or unexpected or misshaped:
            raise StateDictMismatch(f"{source} ({self.tower} tower)", missing, unexpected, misshaped)
        own = {k: v for k, v in network.state_dict().items() if NETWORK_OWN_BUFFERS.search(k)}
        network.load_state_dict({**own, **self.tensors}, strict=True)


def map_laion_clap_state_dict(state: StateDict, tower: Tower) -> ClapStateMapping:
    """Sort every tensor of a LAION-CLAP state dict into loaded (renamed), dropped (with a reason) or unknown."""
    if tower not in RENAMES:
        raise ValueError(f"unknown CLAP tower {tower!r}; choose one of {sorted(RENAMES)}")
    ignored = (OTHER_TOWER[tower], *NEVER_LOADED)
    mapping = ClapStateMapping(tower)
    for key, tensor in state.items():
        reason = next((why for pattern, why in ignored if re.match(pattern, key)), None)
        if reason:
            mapping.dropped[key] = reason
            continue
        targets = network_tensors(key, tensor, tower)
        if targets is None:
            mapping.unknown.append(key)
            continue
        for target, value in targets:
            mapping.tensors[target] = value
            mapping.sources[target] = key
    return mapping


def load_tower(network: nn.Module, checkpoint: Checkpoint, tower: Tower) -> nn.Module:
    if isinstance(checkpoint, Mapping):
        state, source = checkpoint, "LAION-CLAP state dict"
    else:
        state, source = load_laion_clap_state_dict(checkpoint), str(checkpoint)
    map_laion_clap_state_dict(state, tower).load_into(network, source)
    return network.eval()


def build_uninitialised(build: Callable[[], nn.Module]) -> nn.Module:
    """transformers initialises every weight at construction (seconds for these towers on a CPU);
    the strict load that follows overwrites all of them. Buffers made in __init__ are kept."""
    from transformers.initialization import no_init_weights

    with no_init_weights():
        return build()


# ---- text tower -----------------------------------------------------------------------------------


def roberta_base_config():
    from transformers import ClapTextConfig

    # roberta-base as LAION's text branch loads it; spelled out, as ClapTextConfig's defaults differ
    # (layer_norm_eps 1e-12 there, 1e-5 in roberta-base).
    return ClapTextConfig(
        vocab_size=50265,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        projection_dim=CLAP_DIM,
        projection_hidden_act="relu",
    )


class ClapTextEncoder:
    """LAION-CLAP's text tower: RoBERTa-base pooler -> 768-512-512 ReLU projection -> L2 norm."""

    name = CLAP_NAME
    dim = CLAP_DIM
    # CLAP was trained on 77 tokens (laion_clap tokenises so); the official AudioSep code pads to 512.
    # Padding is masked, so the two agree on every text of up to 77 tokens and 77 only cuts longer ones.
    max_tokens = 77

    def __init__(
        self,
        checkpoint: Checkpoint,
        tokenizer_dir: Path | str,
        device: str | torch.device = "cpu",
    ):
        from transformers import ClapTextModelWithProjection, RobertaTokenizer

        tokenizer_dir = require_file(tokenizer_dir, "RoBERTa tokenizer directory")
        for name in ("vocab.json", "merges.txt"):
            require_file(tokenizer_dir / name, "RoBERTa tokenizer file")
        self.device = torch.device(device)
        self.tokenizer = RobertaTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
        model = build_uninitialised(lambda: ClapTextModelWithProjection(roberta_base_config()))
        self.model = load_tower(model, checkpoint, "text").to(self.device)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(self.device)
        output = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return F.normalize(output.text_embeds, dim=-1)


# ---- audio tower ----------------------------------------------------------------------------------

SAMPLE_RATE = 48_000
CLIP_SAMPLES = 10 * SAMPLE_RATE


def htsat_base_config():
    from transformers import ClapAudioConfig

    return ClapAudioConfig(
        num_mel_bins=64,
        spec_size=256,
        window_size=8,
        patch_size=4,
        patch_stride=(4, 4),
        patch_embeds_hidden_size=128,
        depths=(2, 2, 12, 2),
        num_attention_heads=(4, 8, 16, 32),
        hidden_size=1024,  # 128 * 2**3 after the three patch mergings
        mlp_ratio=4.0,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        enable_fusion=False,  # this checkpoint has no fusion: `is_longer` is never read
        projection_dim=CLAP_DIM,
        projection_hidden_act="relu",
    )


class HtsatLogMel(nn.Module):
    """LAION's HTSAT front end: [B, samples] -> log-mel [B, frames, 64], before HTSAT's `bn0`.

    torchlibrosa computes the STFT as a strided convolution with fixed windowed-DFT kernels, and the
    checkpoint stores those kernels and the mel filterbank: using them reproduces LAION's features with
    no window, padding or filterbank convention to re-derive, and without librosa.
    """

    def __init__(self, n_fft: int = 1024, hop_length: int = 480, n_mels: int = 64):
        super().__init__()
        self.hop_length = hop_length
        bins = n_fft // 2 + 1
        self.register_buffer("stft_real", torch.zeros(bins, 1, n_fft))
        self.register_buffer("stft_imag", torch.zeros(bins, 1, n_fft))
        self.register_buffer("mel_filterbank", torch.zeros(bins, n_mels))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        n_fft = self.stft_real.shape[-1]
        padded = F.pad(waveforms[:, None], (n_fft // 2, n_fft // 2), mode="reflect")  # center=True
        real = F.conv1d(padded, self.stft_real, stride=self.hop_length)
        imag = F.conv1d(padded, self.stft_imag, stride=self.hop_length)
        mel = (real**2 + imag**2).transpose(1, 2) @ self.mel_filterbank
        return 10 * torch.log10(mel.clamp_min(1e-10))  # power to dB: ref 1, amin 1e-10, no top_db


class ClapAudioTower(nn.Module):
    """Log-mel front end + HTSAT-base + projection: 10 s clips at 48 kHz -> [B, 512], not normalised."""

    def __init__(self):
        super().__init__()
        from transformers import ClapAudioModelWithProjection

        self.log_mel = HtsatLogMel()
        self.htsat = ClapAudioModelWithProjection(htsat_base_config())

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        # [B, 1, frames, mels] is the layout transformers' HTSAT takes (it applies bn0 itself, then
        # stretches 1001 frames to 1024 and folds them into a 256 x 256 image, as LAION does).
        features = self.log_mel(clips)[:, None]
        return self.htsat(input_features=features).audio_embeds


def fit_to_clip(waveforms: torch.Tensor, length: int = CLIP_SAMPLES) -> torch.Tensor:
    """[B, T] -> [B, length] as LAION prepares audio without fusion ("repeatpad"): a shorter clip is
    repeated a whole number of times and zero-padded; a longer one is cut (LAION at a random offset,
    here at the start, so that the embedding is deterministic)."""
    samples = waveforms.shape[-1]
    if samples >= length:
        return waveforms[:, :length]
    repeated = waveforms.repeat(1, length // samples)
    return F.pad(repeated, (0, length - repeated.shape[-1]))


def check_waveforms(waveforms: torch.Tensor) -> None:
    if waveforms.dim() != 2 or waveforms.shape[-1] == 0:
        raise ValueError(f"expected non-empty [batch, samples] waveforms, got shape {tuple(waveforms.shape)}")


class ClapAudioEncoder:
    """LAION-CLAP's audio tower, in the same 512-d space as `ClapTextEncoder` (query by example)."""

    name = CLAP_NAME
    dim = CLAP_DIM
    sample_rate = SAMPLE_RATE
    max_seconds = CLIP_SAMPLES / SAMPLE_RATE

    def __init__(
        self,
        checkpoint: Checkpoint,
        device: str | torch.device = "cpu",
    ):
        self.device = torch.device(device)
        model = build_uninitialised(ClapAudioTower)
        self.model = load_tower(model, checkpoint, "audio").to(self.device)

    @torch.inference_mode()
    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        """[B, T] mono waveforms at 48 kHz -> [B, 512], L2-normalised. Only the first 10 s count."""
        check_waveforms(waveforms)
        clips = fit_to_clip(waveforms.to(self.device, torch.float32))
        return F.normalize(self.model(clips), dim=-1)

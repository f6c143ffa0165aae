"""The AudioSep separation network: a FiLM-conditioned residual U-Net over STFT magnitudes.

One class, `ResUNet`, driven by `ResUNetConfig`. The `audiosep-base` preset reproduces the official
ResUNet30 layer for layer, so that the official checkpoint's `ss_model.*` tensors load one to one:
module names (`base.encoder_block1.conv_block1.bn1`, `film.encoder_block1->conv_block1->beta1`) are
part of the contract.

Layout inside the network: [batch, channels, time, freq] (time before frequency, as the official code).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Pool = tuple[int, int]  # (time, freq) down/up-sampling factor of one level


@dataclass(frozen=True)
class ResUNetConfig:
    sample_rate: int = 32000
    n_fft: int = 2048
    hop_length: int = 320
    channels: tuple[int, ...] = (32, 64, 128, 256, 384, 384)
    pools: tuple[Pool, ...] = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (1, 2))
    condition_size: int = 512

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.pools):
            raise ValueError("channels and pools need one entry per level")
        freq_factor = prod(f for _, f in self.pools)
        if (self.n_fft // 2) % freq_factor:
            raise ValueError(f"n_fft/2={self.n_fft // 2} must be divisible by the frequency pooling {freq_factor}")

    @property
    def time_multiple(self) -> int:
        """Frames are zero-padded to a multiple of this so every pooling divides evenly."""
        return prod(t for t, _ in self.pools)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ResUNetConfig:
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        values["pools"] = tuple(tuple(p) for p in values["pools"])
        return cls(**values)


def prod(values) -> int:
    result = 1
    for v in values:
        result *= v
    return result


PRESETS: dict[str, ResUNetConfig] = {
    # The official ResUNet30 of AudioSep (32 kHz, CLAP 512-d condition).
    "audiosep-base": ResUNetConfig(),
    # The bundled model: 16 kHz, 16 ms hop, MiniLM 384-d condition; narrow top levels so that it
    # trains in about an hour on two CPU cores (the top levels dominate the cost).
    "bundled-small": ResUNetConfig(
        sample_rate=16000,
        n_fft=512,
        hop_length=256,
        channels=(8, 16, 32, 64, 128, 128),
        pools=((2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (1, 2)),
        condition_size=384,
    ),
}

BN_MOMENTUM = 0.01
LEAKY_SLOPE = 0.01


class ConvBlockRes(nn.Module):
    """Pre-activation residual block; FiLM adds a per-channel bias after each BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def film_sizes(self) -> dict[str, int]:
        return {"beta1": self.bn1.num_features, "beta2": self.bn2.num_features}

    def forward(self, x: torch.Tensor, film: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.bn1(x) + film["beta1"], LEAKY_SLOPE))
        h = self.conv2(F.leaky_relu(self.bn2(h) + film["beta2"], LEAKY_SLOPE))
        return h + (x if self.shortcut is None else self.shortcut(x))


class EncoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, pool: Pool):
        super().__init__()
        self.pool = pool
        self.conv_block1 = ConvBlockRes(in_channels, out_channels)

    def film_sizes(self) -> dict:
        return {"conv_block1": self.conv_block1.film_sizes()}

    def forward(self, x, film):
        """Returns (pooled output for the next level, pre-pool output for the skip connection)."""
        skip = self.conv_block1(x, film["conv_block1"])
        return F.avg_pool2d(skip, self.pool), skip


class DecoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, pool: Pool):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(in_channels, out_channels, pool, stride=pool, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.conv_block2 = ConvBlockRes(2 * out_channels, out_channels)
        # bn2 (and its FiLM beta2) exist in the official checkpoint but are never used in forward.
        self.bn2 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)

    def film_sizes(self) -> dict:
        return {
            "beta1": self.bn1.num_features,
            "beta2": self.bn2.num_features,
            "conv_block2": self.conv_block2.film_sizes(),
        }

    def forward(self, x, skip, film):
        x = self.conv1(F.leaky_relu(self.bn1(x) + film["beta1"], LEAKY_SLOPE))
        return self.conv_block2(torch.cat((x, skip), dim=1), film["conv_block2"])


class UNetBody(nn.Module):
    """Spectrogram in, 3-channel mask features out. Named `base` inside `ResUNet`, as officially."""

    def __init__(self, config: ResUNetConfig):
        super().__init__()
        self.config = config
        bins = config.n_fft // 2 + 1
        self.bn0 = nn.BatchNorm2d(bins, momentum=BN_MOMENTUM)
        self.pre_conv = nn.Conv2d(1, config.channels[0], 1)
        levels = len(config.channels)
        ins = (config.channels[0],) + config.channels[:-1]
        for i in range(levels):
            self.add_module(f"encoder_block{i + 1}", EncoderBlock(ins[i], config.channels[i], config.pools[i]))
        deepest = config.channels[-1]
        self.conv_block7a = EncoderBlock(deepest, deepest, (1, 1))
        decoder_in = deepest
        for i in range(levels):
            level = levels - 1 - i
            self.add_module(
                f"decoder_block{i + 1}",
                DecoderBlock(decoder_in, config.channels[level], config.pools[level]),
            )
            decoder_in = config.channels[level]
        self.after_conv = nn.Conv2d(config.channels[0], 3, 1)

    def encoders(self) -> list[EncoderBlock]:
        return [getattr(self, f"encoder_block{i + 1}") for i in range(len(self.config.channels))]

    def decoders(self) -> list[DecoderBlock]:
        return [getattr(self, f"decoder_block{i + 1}") for i in range(len(self.config.channels))]

    def film_sizes(self) -> dict:
        blocks = {f"encoder_block{i + 1}": b for i, b in enumerate(self.encoders())}
        blocks["conv_block7a"] = self.conv_block7a
        blocks.update({f"decoder_block{i + 1}": b for i, b in enumerate(self.decoders())})
        return {name: block.film_sizes() for name, block in blocks.items()}

    def forward(self, magnitude: torch.Tensor, film: dict) -> torch.Tensor:
        """magnitude [B, 1, frames, bins] -> mask features [B, 3, frames, bins]."""
        frames = magnitude.shape[2]
        x = self.bn0(magnitude.transpose(1, 3)).transpose(1, 3)  # BatchNorm per frequency bin
        x = F.pad(x, (0, 0, 0, -frames % self.config.time_multiple))
        return self.padded(x, film)[:, :, :frames]

    def padded(self, x: torch.Tensor, film: dict) -> torch.Tensor:
        """[B, 1, frames, bins], frames a multiple of the time pooling -> [B, 3, frames, bins]. The
        convolutions, where the work is (model/network.py compiles this part)."""
        x = self.pre_conv(x[..., :-1])  # drop the Nyquist bin so frequency halves cleanly
        skips = []
        for i, encoder in enumerate(self.encoders()):
            x, skip = encoder(x, film[f"encoder_block{i + 1}"])
            skips.append(skip)
        x, _ = self.conv_block7a(x, film["conv_block7a"])
        for i, decoder in enumerate(self.decoders()):
            x = decoder(x, skips.pop(), film[f"decoder_block{i + 1}"])
        return F.pad(self.after_conv(x), (0, 1))  # restore the Nyquist bin


class FiLM(nn.ModuleDict):
    """One Linear(condition -> C) per conditioned BatchNorm, named by its path joined with '->'."""

    def __init__(self, film_sizes: dict, condition_size: int):
        super().__init__()
        self._structure = film_sizes
        for path, size in _flatten(film_sizes):
            self[path] = nn.Linear(condition_size, size)

    def forward(self, condition: torch.Tensor) -> dict:
        """condition [B, D] -> the nested dict of [B, C, 1, 1] biases the body expects."""

        def build(tree: dict, prefix: str) -> dict:
            out = {}
            for key, value in tree.items():
                path = f"{prefix}->{key}" if prefix else key
                out[key] = build(value, path) if isinstance(value, dict) else self[path](condition)[:, :, None, None]
            return out

        return build(self._structure, "")


def _flatten(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        path = f"{prefix}->{key}" if prefix else key
        if isinstance(value, dict):
            yield from _flatten(value, path)
        else:
            yield path, value


class ResUNet(nn.Module):
    """waveform [B, 1, T] + condition [B, D] -> separated waveform [B, 1, T]."""

    def __init__(self, config: ResUNetConfig = ResUNetConfig()):
        super().__init__()
        self.config = config
        self.base = UNetBody(config)
        self.film = FiLM(self.base.film_sizes(), config.condition_size)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    @classmethod
    def from_preset(cls, name: str) -> ResUNet:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(PRESETS[name])

    def stft(self, waveform: torch.Tensor) -> torch.Tensor:
        """[B, T] -> complex [B, frames, bins]."""
        spec = torch.stft(
            waveform, self.config.n_fft, self.config.hop_length, window=self.window,
            center=True, pad_mode="reflect", return_complex=True,
        )
        return spec.transpose(1, 2)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(
            spec.transpose(1, 2), self.config.n_fft, self.config.hop_length, window=self.window,
            center=True, length=length,
        )

    def forward(self, waveform: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        batch, _, length = waveform.shape
        # torch.stft has no autocast kernel for half precision: the transforms stay in float32.
        spec = self.stft(waveform[:, 0].float())
        magnitude = spec.abs().clamp_min(1e-5)  # = sqrt(max(re^2 + im^2, 1e-10))
        cos_x, sin_x = spec.real / magnitude, spec.imag / magnitude
        features = self.base(magnitude[:, None], self.film(condition)).float()
        mask = complex_mask(features)
        # Output: |Y| = relu(|X| * m), phase(Y) = phase(X) rotated by the mask's unit phasor.
        out_magnitude = F.relu(magnitude * mask.magnitude)
        out_cos = cos_x * mask.cos - sin_x * mask.sin
        out_sin = sin_x * mask.cos + cos_x * mask.sin
        out = torch.complex(out_magnitude * out_cos, out_magnitude * out_sin)
        return self.istft(out, length).reshape(batch, 1, length)


@dataclass
class ComplexMask:
    magnitude: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor


def complex_mask(features: torch.Tensor) -> ComplexMask:
    """[B, 3, frames, bins] -> magnitude mask sigmoid(ch0) and unit phasor (tanh(ch1), tanh(ch2)) / norm."""
    real, imag = torch.tanh(features[:, 1]), torch.tanh(features[:, 2])
    norm = torch.sqrt(real**2 + imag**2).clamp_min(1e-10)
    return ComplexMask(torch.sigmoid(features[:, 0]), real / norm, imag / norm)

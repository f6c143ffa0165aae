"""Fixed-size windows with a cross-fade: bounded memory for any length, one shape for every batch.

A signal of length L is cut into n windows of `window` samples stepping by `hop = window - overlap`.
The last window is moved back to end exactly on the signal's last sample, so no window but a
lone short one ever holds zero padding: the network sees the signal's end as it would in one pass.
Neighbouring windows are cross-faded over `overlap` samples with sin^2 / cos^2 ramps, which sum to
one, so overlap-add needs no normalisation. (Where the last window overlaps its neighbour by more
than `overlap`, the extra samples get weight zero in it.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Chunking:
    window: int
    overlap: int

    def __post_init__(self) -> None:
        if not 0 <= 2 * self.overlap <= self.window:
            raise ValueError(f"overlap must be in [0, window/2]; got window={self.window}, overlap={self.overlap}")

    @classmethod
    def from_seconds(cls, sample_rate: int, window_s: float, overlap_s: float) -> Chunking:
        return cls(round(window_s * sample_rate), round(overlap_s * sample_rate))

    @property
    def hop(self) -> int:
        return self.window - self.overlap

    def count(self, length: int) -> int:
        """Number of windows that cover `length` samples (at least one, even for an empty signal)."""
        return max(1, math.ceil((length - self.overlap) / self.hop))

    def starts(self, length: int) -> list[int]:
        starts = [i * self.hop for i in range(self.count(length))]
        if len(starts) > 1:
            starts[-1] = length - self.window
        return starts

    def split(self, signal: torch.Tensor) -> torch.Tensor:
        """[..., L] -> [..., n, window]; a signal shorter than one window is zero-padded."""
        length = signal.shape[-1]
        if length < self.window:
            signal = torch.nn.functional.pad(signal, (0, self.window - length))
        return torch.stack([signal[..., s : s + self.window] for s in self.starts(length)], dim=-2)

    def weights(self, length: int, device=None) -> torch.Tensor:
        """[n, window] overlap-add weights of the windows of a `length`-sample signal."""
        starts = self.starts(length)
        weights = torch.ones(len(starts), self.window, device=device)
        if self.overlap == 0:
            return weights
        ramp = torch.sin(0.5 * math.pi * (torch.arange(self.overlap, device=device) + 0.5) / self.overlap) ** 2
        for i in range(1, len(starts)):
            fade_in_at = starts[i - 1] + self.window - self.overlap - starts[i]  # seam, in window i's samples
            weights[i - 1, -self.overlap :] = ramp.flip(0)
            weights[i, :fade_in_at] = 0
            weights[i, fade_in_at : fade_in_at + self.overlap] = ramp
        return weights

    def merge(self, chunks: torch.Tensor, length: int) -> torch.Tensor:
        """[..., n, window] -> [..., length]: the cross-faded overlap-add of the windows."""
        weighted = chunks * self.weights(length, chunks.device)
        out = chunks.new_zeros(*chunks.shape[:-2], max(length, self.window))
        for i, start in enumerate(self.starts(length)):
            out[..., start : start + self.window] += weighted[..., i, :]
        return out[..., :length]

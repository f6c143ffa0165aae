"""Fixed-size windows with a cross-fade: bounded memory for any length, one shape for every batch.

A signal of length L is cut into n windows of `window` samples stepping by `hop = window - overlap`
(the last one zero-padded). Each window is weighted by a fade that rises over its first `overlap`
samples and falls over its last `overlap` samples, except at the ends of the signal; the rising and
falling halves are sin^2 and cos^2 of the same ramp, so overlapping weights always sum to one and
overlap-add needs no normalisation.
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
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap must be in [0, window); got window={self.window}, overlap={self.overlap}")

    @classmethod
    def from_seconds(cls, sample_rate: int, window_s: float, overlap_s: float) -> Chunking:
        return cls(round(window_s * sample_rate), round(overlap_s * sample_rate))

    @property
    def hop(self) -> int:
        return self.window - self.overlap

    def count(self, length: int) -> int:
        """Number of windows that cover `length` samples (at least one, even for an empty signal)."""
        return max(1, math.ceil((length - self.overlap) / self.hop))

    def split(self, signal: torch.Tensor) -> torch.Tensor:
        """[..., L] -> [..., n, window]; the tail is zero-padded."""
        n = self.count(signal.shape[-1])
        padded_length = (n - 1) * self.hop + self.window
        padded = torch.nn.functional.pad(signal, (0, padded_length - signal.shape[-1]))
        return padded.unfold(-1, self.window, self.hop)

    def fade(self, index: int, n: int, device=None) -> torch.Tensor:
        """The overlap-add weight of window `index` of `n`."""
        weight = torch.ones(self.window, device=device)
        if self.overlap == 0:
            return weight
        ramp = torch.sin(0.5 * math.pi * (torch.arange(self.overlap, device=device) + 0.5) / self.overlap) ** 2
        if index > 0:
            weight[: self.overlap] = ramp
        if index < n - 1:
            weight[-self.overlap :] = ramp.flip(0)
        return weight

    def merge(self, chunks: torch.Tensor, length: int) -> torch.Tensor:
        """[..., n, window] -> [..., length]: the cross-faded overlap-add of the windows."""
        n = chunks.shape[-2]
        out = chunks.new_zeros(*chunks.shape[:-2], (n - 1) * self.hop + self.window)
        for i in range(n):
            start = i * self.hop
            out[..., start : start + self.window] += chunks[..., i, :] * self.fade(i, n, chunks.device)
        return out[..., :length]

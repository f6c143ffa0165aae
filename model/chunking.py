"""Fixed-size windows with a cross-fade: bounded memory for any length, one shape for every batch.

A signal of length L is cut into n windows of `window` samples stepping by `hop = window - overlap`.
The last window is moved back to end exactly on the signal's last sample, so no window but a
lone short one ever holds zero padding: the network sees the signal's end as it would in one pass.
Neighbouring windows are cross-faded over `overlap` samples with sin^2 / cos^2 ramps, which sum to
one, so overlap-add needs no normalisation. (Where the last window overlaps its neighbour by more
than `overlap`, the extra samples get weight zero in it.)

A signal shorter than one window becomes one shorter window: the smallest of window, window/2,
window/4, ... (kept to multiples of `grid`) that holds it. A 1 s clip then costs a 1 s forward pass
instead of a full window of zeros, and there are still only a few shapes to batch and warm up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Chunking:
    window: int
    overlap: int
    grid: int = 1  # every window length is a multiple of it (the network's time grid)

    def __post_init__(self) -> None:
        if not 0 <= 2 * self.overlap <= self.window:
            raise ValueError(f"overlap must be in [0, window/2]; got window={self.window}, overlap={self.overlap}")
        if self.window % self.grid:
            raise ValueError(f"window {self.window} is not a multiple of the grid {self.grid}")

    @property
    def lengths(self) -> list[int]:
        """Every window length `split` can produce, longest first."""
        lengths = [self.window]
        while lengths[-1] % (2 * self.grid) == 0:
            lengths.append(lengths[-1] // 2)
        return lengths

    def window_for(self, length: int) -> int:
        """The window length a `length`-sample signal is cut into."""
        fitting = [size for size in self.lengths if size >= length]
        return fitting[-1] if fitting else self.window

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
        """[..., L] -> [..., n, window_for(L)]; a signal shorter than that is zero-padded."""
        length = signal.shape[-1]
        size = self.window_for(length)
        if length < size:
            signal = torch.nn.functional.pad(signal, (0, size - length))
        return torch.stack([signal[..., s : s + size] for s in self.starts(length)], dim=-2)

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
        if length < self.window:  # one window, maybe a short one: nothing to cross-fade
            return chunks[..., 0, :length]
        weighted = chunks * self.weights(length, chunks.device)
        out = chunks.new_zeros(*chunks.shape[:-2], length)
        for i, start in enumerate(self.starts(length)):
            out[..., start : start + self.window] += weighted[..., i, :]
        return out


class StreamingMerge:
    """`Chunking.merge` for windows that arrive one at a time, in order: `push` takes window i
    ([..., window]) and returns the samples ([..., k]) that became final with it, so only about one
    window of output is held. Samples before window i's fade-out are final once it has arrived (window i+1
    weighs them zero); the additions run in `merge`'s order, so the pieces join to its exact output."""

    def __init__(self, chunking: Chunking, length: int):
        self.chunking, self.length = chunking, length
        self.starts, self.weights = chunking.starts(length), chunking.weights(length)
        self.pushed = 0
        self.emitted = 0
        self.pending: torch.Tensor | None = None  # samples from `emitted` on that may still change

    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        i, window, self.pushed = self.pushed, self.chunking.window, self.pushed + 1
        if self.length < window:  # one window, maybe a short one, as in `merge`
            return chunk[..., : self.length]
        start, emitted = self.starts[i], self.emitted
        end = start + window - emitted
        held = 0 if self.pending is None else self.pending.shape[-1]
        pending = chunk.new_zeros(*chunk.shape[:-1], max(end, held))
        if held:
            pending[..., :held] = self.pending
        skip = max(0, emitted - start)  # a moved last window: weight zero up to here
        pending[..., start + skip - emitted : end] += (chunk * self.weights[i])[..., skip:]
        final = self.length if i == len(self.starts) - 1 else start + window - self.chunking.overlap
        self.pending, self.emitted = pending[..., final - emitted :], final
        return pending[..., : final - emitted]

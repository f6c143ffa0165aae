"""Windows with a cross-fade: bounded memory for any length, one pass's answer at the seams.

A signal of L samples is cut into windows of `window` samples stepping by `hop = window - overlap`,
all starting on the `grid` (the network's time grid: hop x time pooling), so every window sees the
STFT frames and pooling cells that one pass over the whole signal would. The last window starts on
the grid where its neighbour's fade-out begins (or earlier, to hold at least one grid step) and runs
to the signal's exact end, however long that is: the network then sees the signal's end as one pass
does (no zero padding, no reflect padding of a cut), and a 5 s clip costs 4.1 + 1.4 s of model work,
not two full windows. Neighbouring windows are cross-faded over `overlap` samples with sin^2 / cos^2
ramps, which sum to one, so overlap-add needs no normalisation. (Where the last window reaches back
further than its fade-in, the extra samples get weight zero in it: context only.)

A signal no longer than one window is one window of its own length: exactly one pass (zero-padded up
to one grid step if shorter: the STFT's reflect padding needs some length).

Full windows are one shape; last and lone windows have the length the signal gives them. A batch
holds rows of one length, so a row always runs at the same length whatever it is batched with
(the answer does not depend on the batch). On a CPU a new length costs no more than a known one;
compiled, the network's graphs are dynamic in the length (model/network.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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

    @classmethod
    def from_seconds(cls, sample_rate: int, window_s: float, overlap_s: float) -> Chunking:
        return cls(round(window_s * sample_rate), round(overlap_s * sample_rate))

    @property
    def hop(self) -> int:
        return self.window - self.overlap

    @property
    def lengths(self) -> list[int]:
        """Window lengths that stand for all the others, for warm-up: every multiple of the grid up to
        the window, longest first. Shorter windows have any length, but the network pads its frames
        to the grid, so a length costs what the next multiple costs, and compiled graphs (dynamic in
        the length, but split by size where kernels differ) are all met by these."""
        return list(range(self.window, 0, -self.grid))

    def count(self, length: int) -> int:
        """Number of windows that cover `length` samples (at least one, even for an empty signal)."""
        return max(1, math.ceil((length - self.overlap) / self.hop))

    def layout(self, length: int) -> list[tuple[int, int]]:
        """(start, size) of every window of a `length`-sample signal, in order."""
        n = self.count(length)
        if n == 1:
            return [(0, max(length, self.grid))]
        # on the grid, where window n-2's fade-out begins, and at least a grid step before the end
        last = min((n - 1) * self.hop, (length - self.grid) // self.grid * self.grid)
        return [(i * self.hop, self.window) for i in range(n - 1)] + [(last, length - last)]

    def model_samples(self, length: int) -> int:
        """The samples the network runs for a `length`-sample signal: its model work."""
        return sum(size for _, size in self.layout(length))

    def split(self, signal: torch.Tensor) -> list[torch.Tensor]:
        """[..., L] -> the windows [..., size_i], views of `signal` (a lone short window: zero-padded copy)."""
        length = signal.shape[-1]
        layout = self.layout(length)
        if layout[0][1] > length:
            signal = torch.nn.functional.pad(signal, (0, layout[0][1] - length))
        return [signal[..., start : start + size] for start, size in layout]

    def weights(self, length: int, device=None) -> list[torch.Tensor]:
        """The overlap-add weights [size_i] of each window of a `length`-sample signal."""
        layout = self.layout(length)
        weights = [torch.ones(size, device=device) for _, size in layout]
        ramp = torch.sin(0.5 * math.pi * (torch.arange(self.overlap, device=device) + 0.5) / max(1, self.overlap)) ** 2
        for i in range(1, len(layout)):
            (before, before_size), (start, _) = layout[i - 1], layout[i]
            fade_in_at = before + before_size - self.overlap - start  # the seam, in window i's samples
            if self.overlap:
                weights[i - 1][-self.overlap :] = ramp.flip(0)
            weights[i][:fade_in_at] = 0
            weights[i][fade_in_at : fade_in_at + self.overlap] = ramp
        return weights

    def merge(self, chunks: Sequence[torch.Tensor], length: int) -> torch.Tensor:
        """The windows ([..., size_i] each, in order) -> [..., length]: their cross-faded overlap-add."""
        if len(chunks) == 1:  # one window, maybe a short one: nothing to cross-fade
            return chunks[0][..., :length]
        out = chunks[0].new_zeros(*chunks[0].shape[:-1], length)
        for (start, size), chunk, weight in zip(self.layout(length), chunks, self.weights(length, chunks[0].device)):
            out[..., start : start + size] += chunk[..., :size] * weight
        return out


class StreamingMerge:
    """`Chunking.merge` for windows that arrive one at a time, in order: `push` takes window i
    ([..., size_i]) and returns the samples ([..., k]) that became final with it, so only about one
    window of output is held. Samples before window i's fade-out are final once it has arrived (window i+1
    weighs them zero); the additions run in `merge`'s order, so the pieces join to its exact output."""

    def __init__(self, chunking: Chunking, length: int):
        self.chunking, self.length = chunking, length
        self.layout, self.weights = chunking.layout(length), chunking.weights(length)
        self.pushed = 0
        self.emitted = 0
        self.pending: torch.Tensor | None = None  # samples from `emitted` on that may still change

    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        i, self.pushed = self.pushed, self.pushed + 1
        if len(self.layout) == 1:  # one window, maybe a short one, as in `merge`
            return chunk[..., : self.length]
        (start, size), emitted = self.layout[i], self.emitted
        end = start + size - emitted
        held = 0 if self.pending is None else self.pending.shape[-1]
        pending = chunk.new_zeros(*chunk.shape[:-1], max(end, held))
        if held:
            pending[..., :held] = self.pending
        skip = max(0, emitted - start)  # a last window reaching back: weight zero up to here
        pending[..., start + skip - emitted : end] += (chunk[..., :size] * self.weights[i])[..., skip:]
        final = self.length if i == len(self.layout) - 1 else start + size - self.chunking.overlap
        self.pending, self.emitted = pending[..., final - emitted :], final
        return pending[..., : final - emitted]

"""The separation plan: one owner for everything between an input and its separated sounds.

demucs has one `apply_model` that every caller uses; this is ours. Every caller (the library's
`Separator.separate`, the service's answers, streamed or whole, the CLI) goes through it:

    plan = SeparationPlan(samples [C, T], rate, conditions [Q, D], chunking, model_rate, mode)
    plan.lengths [N], plan.chunk(i) [lengths[i]], plan.conditions [N, D]
                                                  what the model must run, in any batches, any order
    plan.finish(separated) -> Stems               separated: N rows, row i holding at least lengths[i]
                                                  samples (e.g. [N, W]); per-query targets and/or the
                                                  residual, each [C, T] at the input's rate, exact length
    plan.stream() -> PlanStream                   the same for one query, window by window, in order

The input is resampled to the model's rate, cut into `Chunking` windows (each channel a mono signal
of its own: the network is mono) and every window is run once per query. Rows are ordered query,
then window, then channel: row (q, i, c) = (q * n + i) * C + c, so window i of every channel of a
query sits together and a stream can write it as soon as those C rows are in. A row is a view of
the resampled input, not a copy (the windows overlap, and every query runs the same windows): the
plan holds the input once at each rate, whatever the number of windows and queries. Rows have the
length of their window: full windows, and a shorter last (or lone) one (model/chunking.py).

`mode` says what comes back: `extract` the targets, `remove` the residual alone (the input minus
the targets), `both` the targets and the residual. With several queries, `extract` answers the
residual too (what none of the queries took), so the stems always sum to the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr
import torch

from model.chunking import Chunking, StreamingMerge

Mode = Literal["extract", "remove", "both"]
MODES: tuple[Mode, ...] = ("extract", "remove", "both")


def answered(mode: Mode, queries: int) -> tuple[bool, bool]:
    """(whether the targets come back, whether the residual does) for a mode and a query count."""
    return mode != "remove", mode != "extract" or queries > 1


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """[channels, samples] float32 -> [channels, samples'] with soxr's high-quality filter, channel
    by channel into one array (a multi-channel call would want a transposed copy of the input, and
    gives the same samples)."""
    if from_rate == to_rate:
        return audio
    out = None
    for channel, samples in enumerate(audio):
        resampled = soxr.resample(samples, from_rate, to_rate)
        if out is None:
            out = np.empty((len(audio), len(resampled)), dtype=np.float32)
        out[channel] = resampled
    return out


RESAMPLE_BLOCK = 1 << 20  # samples soxr's stream takes at a time when resampling into an array


def resample_into(out: np.ndarray, signal: np.ndarray, from_rate: int, to_rate: int) -> None:
    """One channel [T'] at `from_rate` -> `out` [T] at `to_rate`, cut or zero-padded to its length, in
    blocks through soxr's stream: one-shot soxr's samples, without a second whole-length array."""
    stream, written = soxr.ResampleStream(from_rate, to_rate, 1, "float32"), 0
    for start in range(0, len(signal), RESAMPLE_BLOCK):
        last = start + RESAMPLE_BLOCK >= len(signal)
        piece = stream.resample_chunk(np.ascontiguousarray(signal[start : start + RESAMPLE_BLOCK]), last=last)
        piece = piece[: len(out) - written]
        out[written : written + len(piece)] = piece
        written += len(piece)
    out[written:] = 0


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the last axis to exactly `length` (resampling rounds lengths)."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])


def residual(mixture: np.ndarray, targets: list[np.ndarray]) -> np.ndarray:
    """What is left of the mixture once every target is taken out: residual + sum(targets) = mixture.
    One new array (not a stack of the targets, then their sum, then the difference)."""
    out = np.array(targets[0], dtype=np.float32)
    for target in targets[1:]:
        out += target
    return np.subtract(mixture, out, out=out)


@dataclass
class Stems:
    """What a separation answers. `targets`: one [C, T] per query, in query order (empty for
    `remove`); `residual`: [C, T], the input minus every target, or None where the mode leaves it out."""

    targets: list[np.ndarray]
    residual: np.ndarray | None


class SeparationPlan:
    def __init__(
        self,
        samples: np.ndarray,
        sample_rate: int,
        conditions: torch.Tensor,
        chunking: Chunking,
        model_rate: int,
        mode: Mode = "extract",
    ):
        """`samples` [C, T] float32 at `sample_rate`; `conditions` [Q, D], one per query."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if samples.ndim != 2:
            raise ValueError(f"expected [channels, frames] samples, got shape {samples.shape}")
        if conditions.ndim != 2 or len(conditions) == 0:
            raise ValueError(f"expected [queries, D] conditions, got shape {tuple(conditions.shape)}")
        self.samples, self.sample_rate, self.mode = samples, sample_rate, mode
        self.chunking, self.model_rate = chunking, model_rate
        self.channels, self.frames = samples.shape
        self.queries = len(conditions)
        at_model_rate = torch.from_numpy(resample(samples, sample_rate, model_rate))  # [C, T']
        self.model_frames = at_model_rate.shape[-1]
        self.windows = chunking.split(at_model_rate)  # n views [C, size_i] of it
        self.window_count = len(self.windows)
        sizes = np.array([window.shape[-1] for window in self.windows])
        self.lengths = np.tile(np.repeat(sizes, self.channels), self.queries)  # [Q x n x C]
        self.conditions = conditions.repeat_interleave(self.rows_per_query, dim=0)  # [Q x n x C, D]

    @property
    def rows_per_query(self) -> int:
        return self.window_count * self.channels

    def __len__(self) -> int:
        """N: the rows the model must run."""
        return len(self.lengths)

    def chunk(self, row: int) -> torch.Tensor:
        """Row `row`'s samples [lengths[row]] at the model rate: a view of the resampled input."""
        window, channel = divmod(row % self.rows_per_query, self.channels)
        return self.windows[window][channel]

    def finish(self, separated) -> Stems:
        """Every row, separated (N rows at the model rate, in the rows' order, row i holding at least
        lengths[i] samples: e.g. a [N, W] tensor) -> the stems."""
        if len(separated) != len(self):
            raise ValueError(f"expected {len(self)} separated rows, got {len(separated)}")
        targets = [self._target(separated, query) for query in range(self.queries)]
        with_targets, with_residual = answered(self.mode, self.queries)
        return Stems(targets if with_targets else [], residual(self.samples, targets) if with_residual else None)

    def _target(self, separated, query: int) -> np.ndarray:
        """One query's answer [C, T] at the input's rate: each channel's windows merged and resampled
        on their own, so that only one channel's intermediate arrays exist at a time. Its memory is
        frames-first (a transposed view of [T, C]), the layout audio files and libsndfile use: writing
        it needs no transposed copy of the whole answer."""
        target = np.empty((self.frames, self.channels), dtype=np.float32).T
        first = query * self.rows_per_query
        for channel in range(self.channels):
            rows = range(first + channel, first + self.rows_per_query, self.channels)  # its windows, in order
            windows = [separated[row][: self.lengths[row]] for row in rows]
            merged = self.chunking.merge(windows, self.model_frames).numpy()  # [T']
            if self.model_rate == self.sample_rate:
                target[channel] = fit_length(merged, self.frames)
            else:
                resample_into(target[channel], merged, self.model_rate, self.sample_rate)
        return target

    def release(self) -> None:
        """Every row has run and the answer is made: let the resampled input go (it is the rows)."""
        self.windows = []

    def stream(self) -> PlanStream:
        """The answer window by window, for one query and mode `extract` or `remove`."""
        if self.queries != 1 or self.mode == "both":
            raise ValueError("a stream answers one sound: one query, mode extract or remove")
        return PlanStream(self)


class PlanStream:
    """`SeparationPlan.finish` for one query, piece by piece: `push` window i's rows ([C, size_i], the
    rows `rows(i)` of the plan's chunks, separated) in order, and get back the samples ([C, k] at the
    input's rate) that became final with it. The pieces join to `finish`'s exact output (the
    overlap-add adds in `merge`'s order; soxr's stream gives one-shot soxr's samples), so only about
    one window of output is ever held."""

    def __init__(self, plan: SeparationPlan):
        self.plan = plan
        self.merge = StreamingMerge(plan.chunking, plan.model_frames)
        self.pushed = self.written = 0
        rates = plan.model_rate, plan.sample_rate
        self.resampler = None if rates[0] == rates[1] else soxr.ResampleStream(*rates, plan.channels, "float32")

    @property
    def windows(self) -> int:
        return self.plan.window_count

    def rows(self, window: int) -> slice:
        """The plan's rows (every channel of `window`) that `push` needs next."""
        channels = self.plan.channels
        return slice(window * channels, (window + 1) * channels)

    def push(self, window: torch.Tensor) -> np.ndarray:
        """The next window ([C, >= its size] separated, at the model rate) -> the samples [C, k] it completes."""
        self.pushed += 1
        last = self.pushed == self.windows
        piece = np.ascontiguousarray(self.merge.push(window).numpy().T)  # [k', C]
        if self.resampler is not None:
            piece = self.resampler.resample_chunk(piece, last=last)
        frames, written = self.plan.frames, self.written
        piece = piece[: frames - written]
        if last:  # resampling rounds lengths: pad to the input's exact length, as `fit_length` does
            piece = np.pad(piece, [(0, frames - written - len(piece)), (0, 0)])
        self.written += len(piece)
        piece = piece.T  # [C, k]
        if self.plan.mode == "remove":
            piece = residual(self.plan.samples[:, written : self.written], [piece])
        return piece

import math

import pytest
import torch

from model import Chunking
from model.chunking import StreamingMerge


@pytest.mark.parametrize("overlap", [0, 250])
@pytest.mark.parametrize("length", [0, 1, 999, 1000, 1001, 3500, 10_007])
def test_split_merge_round_trip_is_exact(length, overlap):
    chunking = Chunking(window=1000, overlap=overlap, grid=50)
    signal = torch.randn(2, length)
    chunks = chunking.split(signal)
    assert [chunk.shape[-1] for chunk in chunks] == [size for _, size in chunking.layout(length)]
    assert len(chunks) == chunking.count(length)
    assert torch.allclose(chunking.merge(chunks, length), signal, atol=1e-6)


@pytest.mark.parametrize("overlap", [0, 250])
@pytest.mark.parametrize("length", [1, 1000, 1750, 2600, 10_007])
def test_weights_sum_to_one_over_the_signal(length, overlap):
    chunking = Chunking(window=1000, overlap=overlap, grid=50)
    total = torch.zeros(max(length, 1000))
    for (start, size), weight in zip(chunking.layout(length), chunking.weights(length)):
        total[start : start + size] += weight
    assert torch.allclose(total[:length], torch.ones(length), atol=1e-6)


def test_the_last_window_starts_on_the_grid_and_runs_to_the_signals_exact_end():
    chunking = Chunking(window=1000, overlap=200, grid=100)
    # windows at 0, 800, 1600 of 1000; the rest, from 2400 (where the third window's fade-out begins)
    # to 2900, is the last window: 500 samples, not a full window moved back to 1900-2900
    assert chunking.layout(2900) == [(0, 1000), (800, 1000), (1600, 1000), (2400, 500)]
    assert chunking.model_samples(2900) == 3500
    signal = torch.arange(2900.0)
    assert torch.equal(chunking.split(signal)[-1], signal[2400:])  # no padding: the signal's own end
    # with no overlap, the last window still holds a grid step (it reaches back: context only)
    assert Chunking(window=1000, overlap=0, grid=100).layout(2030)[-1] == (1900, 130)


def test_windows_are_views_of_the_signal_not_copies():
    chunking = Chunking(window=1000, overlap=200, grid=100)
    signal = torch.randn(2, 5000)
    assert all(chunk.untyped_storage().data_ptr() == signal.untyped_storage().data_ptr() for chunk in chunking.split(signal))


def test_a_short_signal_runs_at_its_own_length_padded_to_one_grid_step_at_least():
    chunking = Chunking(window=8000, overlap=1000, grid=1000)
    assert chunking.lengths == [8000, 7000, 6000, 5000, 4000, 3000, 2000, 1000]  # what warm-up runs
    assert [chunking.layout(n) for n in (0, 1, 1000, 1001, 3999, 8000)] == [
        [(0, 1000)], [(0, 1000)], [(0, 1000)], [(0, 1001)], [(0, 3999)], [(0, 8000)],
    ]
    signal = torch.randn(3, 1500)
    (chunk,) = chunking.split(signal)
    assert torch.equal(chunk, signal)  # the signal itself: one pass
    (tiny,) = chunking.split(signal[:, :300])
    assert tiny.shape == (3, 1000) and torch.equal(tiny[..., 300:], torch.zeros(3, 700))
    assert torch.equal(chunking.merge([tiny], 300), signal[:, :300])
    with pytest.raises(ValueError):
        Chunking(window=8000, overlap=1000, grid=3000)


def test_count_covers_the_signal():
    chunking = Chunking(window=1000, overlap=200)
    for length in range(0, 5000, 37):
        n = chunking.count(length)
        assert (n - 1) * chunking.hop + chunking.window >= length
        assert n == 1 or (n - 2) * chunking.hop + chunking.window < length


def test_rejects_overlap_above_half_the_window():
    with pytest.raises(ValueError):
        Chunking(window=100, overlap=51)
    assert Chunking.from_seconds(16000, 4.0, 0.5) == Chunking(64000, 8000)
    assert math.isclose(Chunking(64000, 8000).hop / 16000, 3.5)


@pytest.mark.parametrize("length", [1, 999, 1000, 1001, 2600, 10_007])
def test_merging_windows_as_they_arrive_gives_merges_exact_output(length):
    chunking = Chunking(window=1000, overlap=250, grid=50)
    chunks = [chunk.clone() for chunk in chunking.split(torch.randn(2, length))]
    merger = StreamingMerge(chunking, length)
    pieces = [merger.push(chunk) for chunk in chunks]
    assert torch.equal(torch.cat(pieces, dim=-1), chunking.merge(chunks, length))

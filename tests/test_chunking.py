import math

import pytest
import torch

from model import Chunking
from model.chunking import StreamingMerge


@pytest.mark.parametrize("length", [0, 1, 999, 1000, 1001, 3500, 10_007])
def test_split_merge_round_trip_is_exact(length):
    chunking = Chunking(window=1000, overlap=250)
    signal = torch.randn(2, length)
    chunks = chunking.split(signal)
    assert chunks.shape == (2, chunking.count(length), chunking.window_for(length))
    assert torch.allclose(chunking.merge(chunks, length), signal, atol=1e-6)


@pytest.mark.parametrize("length", [1, 1000, 1750, 2600, 10_007])
def test_weights_sum_to_one_over_the_signal(length):
    chunking = Chunking(window=1000, overlap=250)
    total = torch.zeros(max(length, 1000))
    for start, weight in zip(chunking.starts(length), chunking.weights(length)):
        total[start : start + 1000] += weight
    assert torch.allclose(total[:length], torch.ones(length), atol=1e-6)


def test_last_window_ends_on_the_signal_so_it_holds_no_padding():
    chunking = Chunking(window=1000, overlap=250)
    starts = chunking.starts(2600)
    assert starts[:-1] == [0, 750, 1500] and starts[-1] == 1600
    signal = torch.arange(2600.0)
    assert torch.equal(chunking.split(signal)[-1], signal[1600:])


def test_a_short_signal_gets_the_smallest_halved_window_on_the_grid_that_holds_it():
    chunking = Chunking(window=8000, overlap=1000, grid=1000)
    assert chunking.lengths == [8000, 4000, 2000, 1000]
    assert [chunking.window_for(n) for n in (0, 1, 1000, 1001, 3999, 4001, 8000, 20_000)] == [
        1000, 1000, 1000, 2000, 4000, 8000, 8000, 8000,
    ]
    signal = torch.randn(3, 1500)
    chunks = chunking.split(signal)
    assert chunks.shape == (3, 1, 2000) and torch.equal(chunks[..., 1500:], torch.zeros(3, 1, 500))
    assert torch.equal(chunking.merge(chunks, 1500), signal)
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
    chunking = Chunking(window=1000, overlap=250)
    chunks = chunking.split(torch.randn(2, length))
    merger = StreamingMerge(chunking, length)
    pieces = [merger.push(chunk) for chunk in chunks.unbind(-2)]
    assert len(pieces) == chunks.shape[-2]
    assert torch.equal(torch.cat(pieces, dim=-1), chunking.merge(chunks, length))

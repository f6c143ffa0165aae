import math

import pytest
import torch

from model import Chunking


@pytest.mark.parametrize("length", [0, 1, 999, 1000, 1001, 3500, 10_007])
def test_split_merge_round_trip_is_exact(length):
    chunking = Chunking(window=1000, overlap=250)
    signal = torch.randn(2, length)
    chunks = chunking.split(signal)
    assert chunks.shape == (2, chunking.count(length), 1000)
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

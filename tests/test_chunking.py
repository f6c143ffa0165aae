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


def test_fades_sum_to_one_over_overlaps():
    chunking = Chunking(window=800, overlap=300)
    n = 5
    total = torch.zeros((n - 1) * chunking.hop + chunking.window)
    for i in range(n):
        total[i * chunking.hop : i * chunking.hop + chunking.window] += chunking.fade(i, n)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)


def test_count_covers_the_signal():
    chunking = Chunking(window=1000, overlap=200)
    for length in range(0, 5000, 37):
        n = chunking.count(length)
        assert (n - 1) * chunking.hop + chunking.window >= length
        assert n == 1 or (n - 2) * chunking.hop + chunking.window < length


def test_rejects_overlap_not_below_window():
    with pytest.raises(ValueError):
        Chunking(window=100, overlap=100)
    assert Chunking.from_seconds(16000, 4.0, 0.5) == Chunking(64000, 8000)
    assert math.isclose(Chunking(64000, 8000).hop / 16000, 3.5)

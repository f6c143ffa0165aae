"""The in-process Separator on the shipped model: lengths, channels, chunking, short inputs."""

import numpy as np
import pytest
import torch

from model.metrics import improvements
from training.corpus import CLASSES

SPEECH = [c.label for c in CLASSES].index("speech")


def speech_mixture(examples, seconds: float, sample_rate: int = 16000):
    """(mixture, target) of the first held-out speech example, tiled/cut to `seconds`."""
    example = next(e for e in examples if e.class_index == SPEECH)
    length = int(seconds * sample_rate)
    reps = -(-length // len(example.target))
    return np.tile(example.mixture, reps)[:length], np.tile(example.target, reps)[:length]


@pytest.mark.parametrize("length", [1, 1600, 12_345, 95 * 16000])
def test_output_has_exactly_the_input_length(bundled, length):
    wave = np.random.default_rng(length).standard_normal(length).astype(np.float32) * 0.1
    out = bundled.separate(wave, 16000, "speech")
    assert out.shape == (length,) and np.isfinite(out).all()


@pytest.mark.parametrize("rate, length", [(8000, 8001), (44100, 44100), (48000, 95_999)])
def test_multichannel_any_rate_keeps_shape(bundled, rate, length):
    wave = np.random.default_rng(rate).standard_normal((2, length)).astype(np.float32) * 0.1
    out = bundled.separate(wave, rate, "piano")
    assert out.shape == (2, length) and np.isfinite(out).all()


def test_chunked_matches_one_pass_on_30_seconds(bundled, heldout_mixtures):
    """Overlap-add of fixed windows vs the whole 30 s in one forward pass: error energy below -40 dB."""
    mixture, _ = speech_mixture(heldout_mixtures, 30.0)
    chunked = bundled.separate(mixture, 16000, "speech")
    whole = bundled.separate_chunks(torch.from_numpy(mixture)[None], bundled.embed(["speech"]))[0].numpy()
    error_db = 10 * np.log10(np.sum((chunked - whole) ** 2) / np.sum(whole**2))
    print(f"chunked vs one-pass, window {bundled.chunking.window} overlap {bundled.chunking.overlap}: {error_db:.1f} dB")
    assert error_db < -40


@pytest.mark.parametrize("seconds", [0.1, 1.0, 5.0])
def test_short_inputs_are_separated_not_zeros(bundled, heldout_mixtures, seconds):
    """The official chunk mode returns zeros for inputs of 5 s or less; here they are separated."""
    mixture, target = speech_mixture(heldout_mixtures, seconds)
    out = bundled.separate(mixture, 16000, "speech")
    assert np.isfinite(out).all()
    assert np.sum(out**2) > 0.01 * np.sum(target**2)  # real output, not silence
    if seconds >= 1.0:
        scores = improvements(torch.from_numpy(out)[None], torch.from_numpy(mixture)[None], torch.from_numpy(target)[None])
        assert scores["sdri"].item() > 1.0


@pytest.mark.parametrize("name", ["silence", "full-scale noise", "clipped"])
def test_finite_output_for_extreme_input(bundled, name):
    rng = np.random.default_rng(3)
    wave = {
        "silence": np.zeros(16000, np.float32),
        "full-scale noise": rng.uniform(-1, 1, 16000).astype(np.float32),
        "clipped": np.clip(rng.standard_normal(16000) * 10, -1, 1).astype(np.float32),
    }[name]
    out = bundled.separate(wave, 16000, "a dog barking")
    assert np.isfinite(out).all()
    if name == "silence":
        assert np.abs(out).max() < 1e-3

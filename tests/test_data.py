"""Tests of the synthetic corpus: rendering, resuming, loading and mixing.

The synthesisers (espeak-ng, flite, festival, fluidsynth and the soundfonts) are required: a
missing one fails with the package to install, it is never skipped.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from training.corpus import CLASSES, SPLIT_SEEDS, MixtureSampler, SourcePool, build_pool, fixed_mixtures
from training.corpus.music import FLUID_R3, require_soundfont, soundfonts_for
from training.corpus.pool import clip_rng
from training.corpus.sources import render_clips
from training.corpus.speech import ESPEAK_ACCENTS, ESPEAK_VARIANTS, FLITE_VOICES
from training.corpus.tools import REQUIRED_TOOLS, require_tool

SAMPLE_RATE = 16_000
SEGMENT = 2 * SAMPLE_RATE


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return build_pool(tmp_path_factory.mktemp("corpus"), "train", clips_per_class=2, progress=False)


@pytest.fixture(scope="module")
def pool(train_dir):
    return SourcePool.load(train_dir)


def test_synthesisers_and_soundfonts_are_installed():
    for tool in REQUIRED_TOOLS:
        require_tool(tool)
    for split in ("train", "independent"):
        for soundfont in soundfonts_for(split):
            require_soundfont(soundfont)


def test_classes_have_distinct_training_and_heldout_captions():
    labels = [c.label for c in CLASSES]
    assert len(set(labels)) == len(labels) >= 13
    for sound_class in CLASSES:
        assert len(sound_class.captions) >= 8 and len(sound_class.heldout_captions) >= 4
        assert not set(sound_class.captions) & set(sound_class.heldout_captions)


def test_pool_holds_real_audio_for_every_class(train_dir, pool):
    manifest = json.loads((train_dir / "manifest.json").read_text())
    assert len(manifest["clips"]) == 2 * len(CLASSES)
    assert pool.clip_counts == [2] * len(CLASSES)
    for sound_class in CLASSES:
        for path in sorted((train_dir / sound_class.slug).glob("*.wav")):
            audio, rate = soundfile.read(path, dtype="float32")
            assert rate == SAMPLE_RATE and audio.ndim == 1
            assert 2.5 * SAMPLE_RATE < len(audio) <= 8.5 * SAMPLE_RATE, path
            assert np.sqrt(np.mean(audio**2)) > 1e-3, f"{path} is (nearly) silent"
            assert np.max(np.abs(audio)) <= 0.91


def test_build_resumes_and_renders_the_same_clip_again(train_dir):
    clip = train_dir / "siren" / "0001.wav"
    original = clip.read_bytes()
    untouched = train_dir / "piano" / "0000.wav"
    untouched_mtime = untouched.stat().st_mtime_ns
    clip.unlink()
    build_pool(train_dir.parent, "train", clips_per_class=2, progress=False)
    assert clip.read_bytes() == original
    assert untouched.stat().st_mtime_ns == untouched_mtime


def test_splits_draw_from_different_random_streams():
    assert len(set(SPLIT_SEEDS.values())) == len(SPLIT_SEEDS)
    train = render_clips("siren", [0], [clip_rng(SPLIT_SEEDS["train"], "siren", 0)], "train", SAMPLE_RATE)[0][0]
    test = render_clips("siren", [0], [clip_rng(SPLIT_SEEDS["test"], "siren", 0)], "test", SAMPLE_RATE)[0][0]
    assert len(train) != len(test) or not np.allclose(train, test)


def test_speech_voices_and_soundfonts_are_kept_apart():
    for voices in (ESPEAK_ACCENTS, ESPEAK_VARIANTS, FLITE_VOICES):
        assert not set(voices["train"]) & set(voices["test"])
        assert not set(voices["train"]) & set(voices["valid"])
    for split in ("train", "valid", "test"):
        assert FLUID_R3 not in soundfonts_for(split)
    assert soundfonts_for("independent") == (FLUID_R3,)


def test_sampler_shapes_types_and_mixture_arithmetic(pool):
    sampler = MixtureSampler(pool, SEGMENT, seed=0)
    mixture, target, class_index = sampler.sample(8)
    assert mixture.shape == target.shape == (8, SEGMENT)
    assert mixture.dtype == target.dtype == np.float32 and class_index.dtype == np.int64
    assert class_index.min() >= 0 and class_index.max() < len(CLASSES)
    assert np.max(np.abs(mixture)) <= 1.0
    assert np.all(np.sqrt(np.mean(target**2, axis=1)) > 1e-4), "every target must carry energy"
    residual = mixture - target
    assert np.all(np.sqrt(np.mean(residual**2, axis=1)) > 1e-4), "every mixture must have interferers"


def test_interferers_come_from_other_classes(pool):
    sampler = MixtureSampler(pool, SEGMENT, seed=1)
    for class_index in range(len(CLASSES)):
        example = sampler.draw(class_index)
        assert 1 <= len(example.interferer_classes) <= 2
        assert class_index not in example.interferer_classes
        np.testing.assert_array_equal(example.mixture, example.target + example.interference)
        assert np.sqrt(np.mean(example.target**2)) > 1e-4


def test_fixed_mixtures_are_deterministic_and_cover_the_classes(pool):
    first = fixed_mixtures(pool, 2 * len(CLASSES), SEGMENT, seed=7)
    second = fixed_mixtures(pool, 2 * len(CLASSES), SEGMENT, seed=7)
    other = fixed_mixtures(pool, 2 * len(CLASSES), SEGMENT, seed=8)
    for (m1, t1, c1), (m2, t2, c2) in zip(first, second):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(t1, t2)
        assert c1 == c2
    assert sorted({c for _, _, c in first}) == list(range(len(CLASSES)))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_independent_split_uses_recordings_and_fluid_r3(tmp_path):
    pool_dir = build_pool(tmp_path, "independent", clips_per_class=1, progress=False)
    manifest = json.loads((pool_dir / "manifest.json").read_text())
    sources = {entry["class"]: entry["source"] for entry in manifest["clips"].values()}
    assert "prompts" in sources["speech"]
    assert sources["piano"]["soundfont"] == FLUID_R3.name
    assert "siren" not in sources, "no recorded siren exists, so the class is absent"
    assert all(not entry["augmentation"] for entry in manifest["clips"].values())

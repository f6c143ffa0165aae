"""Query by example: an example recording becomes the condition, on both model paths.

Official path: `Separator.from_audiosep` on an AudioSep checkpoint and a LAION-CLAP checkpoint
with random weights but the real file's layout (names, shapes, DDP prefix), so the CLAP audio tower
is built from the same file as the text tower. Bundled path: the shipped audio-query encoder, on
held-out example clips the encoder never trained on; and its training script, resumed.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.fakes import fake_clap_state, write_tiny_roberta_tokenizer
from model import QueryByExampleUnavailable, ResUNet, Separator, joint_condition
from model.checkpoint import AUDIOSEP_PREFIX
from model.encoders.query_audio import QueryAudioNet, save_query_audio
from model.separator import PRETRAINED
from training.corpus.mixing import INT16_SCALE
from training.loop import query_bank
from training.quality import build_example_pool
from training.train_query_audio import class_centroids, parse_args, train

TEST_CORPUS = Path(__file__).resolve().parents[1] / ".cache/test-corpus"  # shared with conftest's held-out pool
EXAMPLES_ROOT = TEST_CORPUS / "examples"


def noise(channels: int, seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, round(seconds * rate)))).astype(np.float32)


def assert_unit_condition(separator: Separator, dim: int, samples: np.ndarray, rate: int) -> None:
    embedding = separator.embed_audio(samples, rate)
    assert embedding.shape == (dim,) and torch.isfinite(embedding).all()
    assert embedding.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert embedding.device == separator.device


# ---- official path: CLAP's audio tower ------------------------------------------------------------


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    directory = tmp_path_factory.mktemp("audiosep")
    network = ResUNet.from_preset("audiosep-base")
    checkpoint = directory / "audiosep_base_4M_steps.ckpt"
    torch.save({"state_dict": {AUDIOSEP_PREFIX + k: v for k, v in network.state_dict().items()}}, checkpoint)
    clap = directory / "music_speech_audioset_epoch_15_esc_89.98.pt"
    state = fake_clap_state()
    torch.save({"epoch": 15, "state_dict": {f"module.{name}": tensor for name, tensor in state.items()}}, clap)
    del state
    tokenizer = write_tiny_roberta_tokenizer(directory / "tokenizer")
    return Separator.from_audiosep(checkpoint, clap, tokenizer, device="cpu")


@pytest.mark.parametrize("channels, seconds, rate", [(1, 10, 48000), (2, 1, 44100)], ids=["10s-48k-mono", "1s-stereo"])
def test_official_audio_query_is_a_unit_clap_vector(official, channels, seconds, rate):
    assert_unit_condition(official, 512, noise(channels, seconds, rate), rate)


def test_official_audio_query_conditions_the_network(official):
    """Alone and joined with a text query, the example's embedding drives a separation."""
    audio = official.embed_audio(noise(1, 2, 48000, seed=1), 48000)
    text = official.embed(["a dog barking"])[0]
    joint = joint_condition(text, audio)
    assert joint.shape == (512,) and (joint - audio).abs().max() > 1e-3  # the text moved the condition
    chunk = torch.from_numpy(noise(1, 0.5, 32000, seed=2))
    out = official.separate_chunks(chunk, joint[None])
    assert out.shape == chunk.shape and torch.isfinite(out).all()


# ---- the joint condition --------------------------------------------------------------------------


def test_joint_condition_is_the_unit_midpoint():
    text, audio = torch.nn.functional.normalize(torch.randn(2, 3, 384), dim=-1)
    joint = joint_condition(text, audio)
    assert joint.shape == (3, 384)
    assert torch.allclose(joint.norm(dim=-1), torch.ones(3), atol=1e-6)
    assert torch.allclose((joint * text).sum(-1), (joint * audio).sum(-1), atol=1e-6)  # equally close to both
    assert torch.allclose(joint_condition(text[0], text[0]), text[0], atol=1e-6)


# ---- bundled path: the shipped audio-query encoder ------------------------------------------------


@pytest.fixture(scope="module")
def example_pool():
    """One held-out example clip per class, from a seed no mixture pool uses."""
    return build_example_pool(EXAMPLES_ROOT, clips_per_class=1, sample_rate=16000)


@pytest.mark.parametrize("channels, seconds, rate", [(1, 10, 16000), (2, 1, 44100), (1, 0.05, 8000)])
def test_bundled_audio_query_is_a_unit_minilm_vector(bundled, channels, seconds, rate):
    assert_unit_condition(bundled, 384, noise(channels, seconds, rate), rate)


def test_only_the_first_ten_seconds_of_an_example_count(bundled):
    long = noise(1, 30, 16000, seed=3)
    first_ten_seconds = bundled.embed_audio(long[:, : 10 * 16000], 16000)
    assert torch.allclose(bundled.embed_audio(long, 16000), first_ten_seconds, atol=1e-5)


def test_bundled_audio_query_lands_next_to_its_class_texts(bundled, example_pool):
    """A held-out example of each class is nearest its own class's texts (label and captions, as
    the separator was trained on them); measured: all 13 classes."""
    bank, rows = query_bank(bundled.encoder)
    centroids = class_centroids(bank, rows).to(bundled.device)
    examples = [clips[0][None] * np.float32(INT16_SCALE) for clips in example_pool.clips]
    nearest = [int((centroids @ bundled.embed_audio(x, example_pool.sample_rate)).argmax()) for x in examples]
    print("nearest class per example:", nearest)
    assert sum(found == wanted for wanted, found in enumerate(nearest)) >= len(nearest) - 2


def test_checkpoint_without_audio_encoder_refuses_clearly():
    separator = Separator.from_checkpoint(PRETRAINED["bundled"], device="cpu")
    with pytest.raises(QueryByExampleUnavailable, match="no audio-query encoder.*use a text query"):
        separator.embed_audio(noise(1, 1, 16000), 16000)
    assert issubclass(QueryByExampleUnavailable, ValueError)


def test_encoder_trained_into_another_text_space_is_refused(tmp_path):
    path = tmp_path / "query-audio.pt"
    texts = torch.nn.functional.normalize(torch.randn(5, 384), dim=-1)
    save_query_audio(path, QueryAudioNet(), text_encoder="some-other-encoder", texts=texts, text_temperature=0.05)
    with pytest.raises(ValueError, match="space of 'some-other-encoder', not of 'all-minilm-l6-v2'"):
        Separator.from_checkpoint(PRETRAINED["bundled"], query_audio=path, device="cpu")


@pytest.mark.parametrize(
    "samples, message",
    [(np.zeros((1, 0), np.float32), "non-empty"), (np.zeros(16000, np.float32), r"\[channels, frames\]"),
     (np.full((1, 16000), np.nan, np.float32), "NaN")],
    ids=["empty", "one-dimensional", "nan"],
)
def test_bad_example_recording_is_a_value_error(bundled, samples, message):
    with pytest.raises(ValueError, match=message):
        bundled.embed_audio(samples, 16000)


# ---- training -------------------------------------------------------------------------------------


def test_training_resumes_to_the_same_weights(tmp_path):
    """Two steps in one go, or one step, a stop and a resume: the same exported encoder."""
    def run(name: str, steps: int) -> dict:
        export = tmp_path / f"{name}.pt"
        train(parse_args([
            "--run", str(tmp_path / name), "--export", str(export), "--corpus", str(TEST_CORPUS), "--steps", str(steps),
            "--clips-per-class", "2", "--valid-clips-per-class", "1", "--batch-size", "4", "--max-seconds", "1.5",
            "--valid-every", "2", "--checkpoint-every", "1", "--threads", "1", "--device", "cpu",
        ]))
        return torch.load(export, weights_only=True)

    straight = run("straight", 2)
    run("resumed", 1)
    resumed = run("resumed", 2)
    assert resumed["trained_steps"] == straight["trained_steps"] == 2
    for name, tensor in straight["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], tensor), name
    assert torch.equal(resumed["texts"], straight["texts"]) and resumed["texts"].shape[1] == 384

"""The network: official layout, strict loading, batch invariance, finite output."""

import json
from pathlib import Path

import pytest
import torch

from model import MissingModelFile, ResUNet, StateDictMismatch, load_audiosep_resunet
from model.checkpoint import AUDIOSEP_IGNORED, AUDIOSEP_PREFIX


@pytest.fixture(scope="module")
def manifest():
    return json.loads((Path(__file__).with_name("data") / "audiosep_resunet30_tensors.json").read_text())["tensors"]


def network_tensors(manifest):
    """The manifest without the prefix and without torchlibrosa's fixed STFT/ISTFT kernels."""
    stripped = {name[len(AUDIOSEP_PREFIX) :]: shape for name, shape in manifest.items()}
    return {name: shape for name, shape in stripped.items() if not name.startswith(AUDIOSEP_IGNORED)}


def randomised(model: ResUNet, seed: int = 0) -> ResUNet:
    """Random weights and BatchNorm statistics, so that tests see more than the default init."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    return model.eval()


def test_audiosep_base_has_exactly_the_official_tensors(manifest):
    state = ResUNet.from_preset("audiosep-base").state_dict()
    expected = network_tensors(manifest)
    assert {k: list(v.shape) for k, v in state.items()} == expected
    assert len(manifest) == 332


def write_lightning_checkpoint(path, manifest, model: ResUNet, **overrides):
    state = {AUDIOSEP_PREFIX + k: v for k, v in model.state_dict().items()}
    for name, shape in manifest.items():  # the fixed kernels the official file carries too
        if name not in state:
            state[name] = torch.zeros(shape)
    state.update(overrides)
    torch.save({"epoch": 3, "global_step": 4_000_000, "state_dict": state, "hyper_parameters": {"lr": 1e-3}}, path)


def test_official_lightning_checkpoint_loads_one_to_one(tmp_path, manifest):
    source = randomised(ResUNet.from_preset("audiosep-base"))
    path = tmp_path / "audiosep_base_4M_steps.ckpt"
    write_lightning_checkpoint(path, manifest, source)
    loaded = load_audiosep_resunet(path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    wave, condition = torch.randn(1, 1, 16000), torch.randn(1, 512)
    with torch.inference_mode():
        assert torch.equal(loaded(wave, condition), source(wave, condition))


def test_checkpoint_errors_list_the_offending_tensors(tmp_path, manifest):
    model = ResUNet.from_preset("audiosep-base")
    path = tmp_path / "bad.ckpt"
    film = "film.decoder_block3->beta1.weight"
    write_lightning_checkpoint(
        path, manifest, model,
        **{AUDIOSEP_PREFIX + film: torch.zeros(7, 512), AUDIOSEP_PREFIX + "base.extra.weight": torch.zeros(1)},
    )
    with pytest.raises(StateDictMismatch) as error:
        load_audiosep_resunet(path)
    message = str(error.value)
    assert film in message and "(7, 512)" in message and "(384, 512)" in message
    assert "base.extra.weight" in message

    state = torch.load(path)["state_dict"]
    del state[AUDIOSEP_PREFIX + "base.after_conv.bias"]
    del state[AUDIOSEP_PREFIX + "base.extra.weight"]
    state[AUDIOSEP_PREFIX + film] = torch.zeros(384, 512)
    torch.save({"state_dict": state}, path)
    with pytest.raises(StateDictMismatch, match="1 missing: base.after_conv.bias"):
        load_audiosep_resunet(path)


def test_a_missing_checkpoint_is_named_with_what_it_is(tmp_path):
    with pytest.raises(MissingModelFile, match=r"AudioSep checkpoint not found at .*nowhere\.ckpt"):
        load_audiosep_resunet(tmp_path / "nowhere.ckpt")


@pytest.mark.parametrize("preset, seconds", [("bundled-small", 2.0), ("audiosep-base", 0.5)])
def test_batch_invariance(preset, seconds):
    """An item separated in a batch of 8 with other conditions equals it separated alone."""
    model = randomised(ResUNet.from_preset(preset))
    generator = torch.Generator().manual_seed(1)
    length = int(seconds * model.config.sample_rate)
    waves = torch.randn(8, 1, length, generator=generator) * 0.3
    conditions = torch.nn.functional.normalize(torch.randn(8, model.config.condition_size, generator=generator), dim=1)
    with torch.inference_mode():
        batched = model(waves, conditions)
        for i in range(8):
            alone = model(waves[i : i + 1], conditions[i : i + 1])
            assert (batched[i] - alone[0]).abs().max().item() < 1e-5
        # and the condition matters: the same audio under another query differs
        assert (model(waves[:1], conditions[1:2]) - batched[:1]).abs().max() > 1e-3

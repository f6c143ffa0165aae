"""The LAION-CLAP encoders on a fake checkpoint with the real file's names and shapes.

The fake is written from the real checkpoint's tensor layout (tests/data/laion_clap_tensors.json), so the key mapping is checked
against every tensor the official `music_speech_audioset_epoch_15_esc_89.98.pt` holds.
"""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from bench.fakes import fake_clap_state, write_tiny_roberta_tokenizer
from model import MissingModelFile, StateDictMismatch, TextEncoder
from model.encoders.clap import (
    CLAP_DIM,
    CLIP_SAMPLES,
    SAMPLE_RATE,
    ClapAudioEncoder,
    ClapTextEncoder,
    HtsatLogMel,
    fit_to_clip,
    load_laion_clap_state_dict,
    map_laion_clap_state_dict,
)


@pytest.fixture(scope="module")
def fake_state() -> dict[str, torch.Tensor]:
    return fake_clap_state()


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory, fake_state):
    """Laid out as LAION's training script saves it: DDP prefix, the stale position_ids buffer."""
    state = {f"module.{name}": tensor for name, tensor in fake_state.items()}
    state["module.text_branch.embeddings.position_ids"] = torch.arange(514)[None]
    path = tmp_path_factory.mktemp("clap") / "music_speech_audioset_epoch_15_esc_89.98.pt"
    torch.save({"epoch": 15, "state_dict": state}, path)
    return path


@pytest.fixture(scope="module")
def loaded_state(checkpoint_path):
    return load_laion_clap_state_dict(checkpoint_path)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return write_tiny_roberta_tokenizer(tmp_path_factory.mktemp("roberta-tokenizer"))


@pytest.fixture(scope="module")
def text_encoder(checkpoint_path, tokenizer_dir):
    return ClapTextEncoder(checkpoint_path, tokenizer_dir)


@pytest.fixture(scope="module")
def audio_encoder(loaded_state):
    return ClapAudioEncoder(loaded_state)  # the file's tensors, loaded once for both towers


def test_checkpoint_file_is_read_without_ddp_prefix_and_stale_buffer(fake_state, loaded_state):
    assert loaded_state.keys() == fake_state.keys()
    assert all(torch.equal(loaded_state[name], tensor) for name, tensor in fake_state.items())


@pytest.mark.parametrize("tower", ["text", "audio"])
def test_mapping_is_total_and_every_tensor_lands(tower, loaded_state, text_encoder, audio_encoder):
    network = {"text": text_encoder, "audio": audio_encoder}[tower].model
    mapping = map_laion_clap_state_dict(loaded_state, tower)
    assert mapping.mismatches(network) == ([], [], [])
    assert mapping.unknown == []
    assert set(mapping.sources.values()) | set(mapping.dropped) == set(loaded_state)
    assert not set(mapping.sources.values()) & set(mapping.dropped)
    loaded = network.state_dict()
    assert all(torch.equal(loaded[key], tensor) for key, tensor in mapping.tensors.items())


def test_mapping_renames_and_drops_what_it_should(loaded_state, text_encoder, audio_encoder):
    text, audio = text_encoder.model, audio_encoder.model
    assert torch.equal(text.text_projection.linear2.weight, loaded_state["text_projection.2.weight"])
    assert torch.equal(
        text.text_model.encoder.layer[3].attention.self.query.weight,
        loaded_state["text_branch.encoder.layer.3.attention.self.query.weight"],
    )
    block = audio.htsat.audio_model.audio_encoder.layers[2].blocks[5]
    query, key, value = loaded_state["audio_branch.layers.2.blocks.5.attn.qkv.weight"].chunk(3)
    assert torch.equal(block.attention.self.query.weight, query)
    assert torch.equal(block.attention.self.key.weight, key)
    assert torch.equal(block.attention.self.value.weight, value)
    assert torch.equal(audio.log_mel.mel_filterbank, loaded_state["audio_branch.logmel_extractor.melW"])

    dropped = map_laion_clap_state_dict(loaded_state, "text").dropped
    assert dropped["audio_branch.tscam_conv.weight"] == "audio tower not built"
    assert "contrastive" in dropped["text_transform.sequential.0.weight"]
    assert "contrastive" in dropped["logit_scale_t"]
    dropped = map_laion_clap_state_dict(loaded_state, "audio").dropped
    assert "classifier" in dropped["audio_branch.head.weight"]
    assert "recomputed" in dropped["audio_branch.layers.0.blocks.1.attn_mask"]


def test_text_embeddings_are_normalised_and_batch_independent(text_encoder):
    assert isinstance(text_encoder, TextEncoder) and text_encoder.dim == CLAP_DIM
    texts = ["a dog", "a cat and a dog barking in the distance", "piano"]
    batch = text_encoder.encode(texts)
    assert batch.shape == (3, CLAP_DIM) and torch.isfinite(batch).all()
    assert torch.allclose(batch.norm(dim=1), torch.ones(3), atol=1e-5)
    assert (batch[0] - batch[1]).abs().max() > 1e-2  # random weights, yet not one constant vector
    for i, text in enumerate(texts):
        assert torch.allclose(text_encoder.encode([text])[0], batch[i], atol=1e-5)


def handwritten_text_embedding(state, input_ids, attention_mask):
    """RoBERTa-base + pooler + CLAP projection in plain torch, on the file's own tensor names: an
    independent check of the renaming and of the config (layer-norm eps, activations, positions)."""

    def linear(x, name, prefix="text_branch."):
        return F.linear(x, state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"])

    def norm(x, name):
        return F.layer_norm(x, (768,), state[f"text_branch.{name}.weight"], state[f"text_branch.{name}.bias"], 1e-5)

    def heads(x):
        return x.view(batch, length, 12, 64).transpose(1, 2)

    batch, length = input_ids.shape
    tokens = input_ids.ne(1)
    positions = torch.cumsum(tokens, 1) * tokens + 1  # RoBERTa counts from padding_idx + 1; pads stay 1
    x = (
        state["text_branch.embeddings.word_embeddings.weight"][input_ids]
        + state["text_branch.embeddings.position_embeddings.weight"][positions]
        + state["text_branch.embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    masked = torch.zeros(attention_mask.shape).masked_fill(attention_mask == 0, -1e9)[:, None, None, :]
    for i in range(12):
        layer = f"encoder.layer.{i}."
        q, k, v = (heads(linear(x, f"{layer}attention.self.{part}")) for part in ("query", "key", "value"))
        attended = (torch.softmax(q @ k.transpose(-1, -2) / 8 + masked, dim=-1) @ v).transpose(1, 2)
        x = norm(
            x + linear(attended.reshape(batch, length, 768), f"{layer}attention.output.dense"),
            f"{layer}attention.output.LayerNorm",
        )
        hidden = F.gelu(linear(x, f"{layer}intermediate.dense"))
        x = norm(x + linear(hidden, f"{layer}output.dense"), f"{layer}output.LayerNorm")
    pooled = torch.tanh(linear(x[:, 0], "pooler.dense"))
    projected = linear(F.relu(linear(pooled, "text_projection.0", "")), "text_projection.2", "")
    return F.normalize(projected, dim=-1)


def test_text_tower_matches_a_handwritten_roberta(text_encoder, loaded_state):
    texts = ["a dog", "a cat and a dog barking in the distance"]
    tokens = text_encoder.tokenizer(texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    with torch.inference_mode():
        expected = handwritten_text_embedding(loaded_state, tokens["input_ids"], tokens["attention_mask"])
    assert torch.allclose(text_encoder.encode(texts), expected, atol=1e-5)


def handwritten_swin_block(state, prefix, x, heads, relative_index):
    """One unshifted HTSAT block over a single 8 x 8 window, as LAION writes it (fused qkv, timm names)."""

    def linear(x, name):
        return F.linear(x, state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"])

    def norm(x, name):
        return F.layer_norm(x, x.shape[-1:], state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"], 1e-5)

    batch, tokens, channels = x.shape
    qkv = linear(norm(x, "norm1"), "attn.qkv").reshape(batch, tokens, 3, heads, channels // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    table = state[f"{prefix}attn.relative_position_bias_table"]
    bias = table[relative_index.view(-1)].view(tokens, tokens, heads).permute(2, 0, 1)
    attended = torch.softmax(q @ k.transpose(-1, -2) * (channels // heads) ** -0.5 + bias, dim=-1) @ v
    x = x + linear(attended.transpose(1, 2).reshape(batch, tokens, channels), "attn.proj")
    return x + linear(F.gelu(linear(norm(x, "norm2"), "mlp.fc1")), "mlp.fc2")


def test_swin_block_matches_laions_formulation(audio_encoder, loaded_state):
    """Checks what shapes cannot: norm1/norm2 and query/key/value land in the right places."""
    block = audio_encoder.model.htsat.audio_model.audio_encoder.layers[0].blocks[0]  # unshifted, 4 heads
    x = torch.randn(2, 64, 128)
    relative_index = block.attention.self.relative_position_index  # Swin's fixed table, not from the file
    with torch.inference_mode():
        expected = handwritten_swin_block(loaded_state, "audio_branch.layers.0.blocks.0.", x, 4, relative_index)
        assert torch.allclose(block(x, (8, 8))[0], expected, atol=1e-5)


@pytest.mark.parametrize("seconds", [10, 1])
def test_audio_embeddings_are_normalised(audio_encoder, seconds):
    waveform = 0.1 * torch.randn(1, seconds * SAMPLE_RATE)
    embedding = audio_encoder.encode_audio(waveform)
    assert embedding.shape == (1, CLAP_DIM) and torch.isfinite(embedding).all()
    assert torch.allclose(embedding.norm(dim=1), torch.ones(1), atol=1e-5)


def test_clips_are_repeat_padded_or_cut_to_ten_seconds():
    short = torch.randn(2, 3 * SAMPLE_RATE)
    clip = fit_to_clip(short)
    assert clip.shape == (2, CLIP_SAMPLES)
    assert torch.equal(clip[:, : 9 * SAMPLE_RATE], short.repeat(1, 3))  # whole repeats, as LAION's "repeatpad"
    assert not clip[:, 9 * SAMPLE_RATE :].any()  # then zeros
    long = torch.randn(1, 12 * SAMPLE_RATE)
    assert torch.equal(fit_to_clip(long), long[:, :CLIP_SAMPLES])


def test_log_mel_front_end_is_a_centred_stft():
    """With torchlibrosa's kernels (Hann-windowed DFT), the front end is torch.stft's power spectrum."""
    n_fft, hop = 1024, 480
    front = HtsatLogMel(n_fft, hop)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(torch.arange(n_fft // 2 + 1), torch.arange(n_fft)).double() / n_fft
    front.stft_real.copy_((torch.cos(angle) * window)[:, None])
    front.stft_imag.copy_((-torch.sin(angle) * window)[:, None])
    front.mel_filterbank.copy_(torch.rand(n_fft // 2 + 1, 64))
    waveforms = torch.randn(2, SAMPLE_RATE)
    spectrum = torch.stft(
        waveforms, n_fft, hop, window=window.float(), center=True, pad_mode="reflect", return_complex=True
    )
    expected = 10 * torch.log10((spectrum.abs() ** 2).transpose(1, 2) @ front.mel_filterbank)
    features = front(waveforms)
    assert features.shape == (2, 1 + SAMPLE_RATE // hop, 64)
    assert torch.allclose(features, expected, atol=1e-3)


def test_a_missing_checkpoint_or_tokenizer_file_is_named(tmp_path, tokenizer_dir):
    with pytest.raises(MissingModelFile, match=r"LAION-CLAP checkpoint not found at .*nowhere\.pt"):
        ClapTextEncoder(tmp_path / "nowhere.pt", tokenizer_dir)
    with pytest.raises(MissingModelFile, match="vocab.json"):
        ClapTextEncoder(tmp_path / "nowhere.pt", tmp_path)


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "clap.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_laion_clap_state_dict(path)
    torch.save({"state_dict": {"ss_model.pre_conv.weight": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="LAION-CLAP"):
        load_laion_clap_state_dict(path)


@pytest.mark.parametrize(
    "build, key",
    [
        (lambda state, tokenizer: ClapTextEncoder(state, tokenizer), "text_branch.pooler.dense.weight"),
        (lambda state, tokenizer: ClapAudioEncoder(state), "audio_branch.layers.1.blocks.0.attn.qkv.weight"),
    ],
    ids=["text", "audio"],
)
def test_misshaped_tensor_is_listed_with_both_shapes(build, key, loaded_state, tokenizer_dir):
    state = {**loaded_state, key: torch.zeros(3, 4)}
    with pytest.raises(StateDictMismatch, match=rf"{re.escape(key)} -> .*\(file \(\d, 4\), network \(\d+, \d+\)\)"):
        build(state, tokenizer_dir)


def test_unknown_and_missing_tensors_are_listed(loaded_state, tokenizer_dir):
    state = {
        **loaded_state,
        "bogus.weight": torch.zeros(1),
        "text_branch.encoder.layer.12.output.dense.bias": torch.zeros(768),
    }
    del state["text_projection.2.bias"]
    with pytest.raises(StateDictMismatch) as error:
        ClapTextEncoder(state, tokenizer_dir)
    assert error.value.missing == ["text_projection.linear2.bias"]
    assert error.value.unexpected == [
        "bogus.weight",
        "text_branch.encoder.layer.12.output.dense.bias -> text_model.encoder.layer.12.output.dense.bias",
    ]
    assert "bogus.weight" in str(error.value)

import pytest
import torch

from model import MiniLMEncoder, MissingModelFile, TextEncoder


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEncoder()


def test_minilm_is_offline_normalised_and_batch_independent(minilm):
    assert isinstance(minilm, TextEncoder) and minilm.dim == 384
    texts = ["speech", "a dog barking loudly in the distance", "piano"]
    batch = minilm.encode(texts)
    assert batch.shape == (3, 384)
    assert torch.allclose(batch.norm(dim=1), torch.ones(3), atol=1e-5)
    for i, text in enumerate(texts):
        assert torch.allclose(minilm.encode([text])[0], batch[i], atol=1e-5)


def test_minilm_embeds_meaning(minilm):
    """Related wordings are closer than unrelated ones: the embedding is a real sentence model."""
    speech, narrator, organ = minilm.encode(["speech", "a man talking", "church organ"])
    assert speech @ narrator > speech @ organ


def test_missing_encoder_directory_is_a_clear_error(tmp_path):
    with pytest.raises(MissingModelFile, match="nowhere"):
        MiniLMEncoder(tmp_path / "nowhere")

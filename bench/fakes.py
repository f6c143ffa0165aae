"""Stand-ins for the official CLAP files, made from the tensor layout of the real checkpoint
(`tests/data/laion_clap_tensors.json`, kept by the project).

The benchmarks time the CLAP text branch without the 2 GB checkpoint (speed does not depend on the
weights' values), and the tests check the key mapping against every tensor name and shape the real
file holds. Both build their fakes here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CLAP_LAYOUT = REPO / "tests/data/laion_clap_tensors.json"
TEXT_TOWER_PREFIXES = ("text_branch.", "text_projection.")


def fake_tensor(name: str, shape: list[int]) -> torch.Tensor:
    """Random, but scaled so that a forward pass stays finite and far from saturation."""
    if name.endswith("num_batches_tracked"):
        return torch.tensor(0)
    if name.endswith("running_var"):
        return torch.rand(shape) + 0.5
    if len(shape) >= 2:
        return torch.randn(shape) / math.sqrt(math.prod(shape[1:]))
    if name.endswith("weight"):  # a normalisation's scale
        return 1 + 0.1 * torch.randn(shape)
    return 0.1 * torch.randn(shape)


def fake_clap_state(prefixes: tuple[str, ...] = ("",)) -> dict[str, torch.Tensor]:
    """Every tensor of the LAION-CLAP checkpoint whose name starts with one of `prefixes`, seeded."""
    tensors = json.loads(CLAP_LAYOUT.read_text())["tensors"]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        return {name: fake_tensor(name, shape) for name, shape in tensors.items() if name.startswith(prefixes)}
    finally:
        torch.random.set_rng_state(generator_state)


def write_tiny_roberta_tokenizer(directory: Path) -> Path:
    """A tiny byte-level BPE in RoBERTa's file format and special-token ids (<s> 0, <pad> 1, </s> 2).
    CLAP pads every query to 77 tokens, so the encoder's cost does not depend on the vocabulary."""
    from tokenizers.pre_tokenizers import ByteLevel

    merges = ["Ġ d", "o g", "Ġd og", "Ġ c", "a t", "Ġc at"]
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *sorted(ByteLevel.alphabet()), *(m.replace(" ", "") for m in merges)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate([*tokens, "<mask>"])}))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return directory


def fake_clap_text_encoder(tokenizer_dir: Path, device: str | torch.device = "cpu"):
    """The CLAP text branch (RoBERTa-base + projection) with random weights of the real shapes."""
    from model.encoders.clap import ClapTextEncoder

    state = fake_clap_state(prefixes=TEXT_TOWER_PREFIXES)
    return ClapTextEncoder(state, write_tiny_roberta_tokenizer(tokenizer_dir), device)

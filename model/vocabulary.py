"""What a closed-vocabulary model knows: the sound classes it was trained on, each a label and the
texts it was queried with in training, and how far a query may stray from them.

A model trained on a fixed set of classes (the bundled one) answers any query with confident audio,
including queries for sounds it never heard. Its vocabulary lets a caller know: a condition's
nearest class is the class of its most similar training text (cosine of unit vectors, in the text
encoder's space), and a text query whose similarity is below `threshold` is not one the model can
answer. The threshold is chosen on validation when the weights are exported (training/vocabulary.py)
and travels with them. An open-vocabulary model (the official AudioSep with CLAP) has no vocabulary.

In the checkpoint's metadata: `vocabulary` = [{"label": str, "texts": [str, ...]}, ...] and
`unknown_query_threshold` = float.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Embed = Callable[[list[str]], torch.Tensor]  # texts -> [N, D] unit vectors


@dataclass(frozen=True)
class Match:
    """A condition's nearest classes, most similar first: (label, cosine similarity)."""

    nearest: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.nearest[0][0]

    @property
    def similarity(self) -> float:
        return self.nearest[0][1]


class Vocabulary:
    def __init__(self, classes: list[dict], embed: Embed, threshold: float | None = None):
        """`classes`: [{"label", "texts"}] as stored with the weights; `embed`: the model's text encoder."""
        if not classes:
            raise ValueError("a vocabulary needs at least one class")
        self.classes = classes
        self.labels = [entry["label"] for entry in classes]
        self.threshold = threshold
        texts = [text for entry in classes for text in (entry["label"], *entry["texts"])]
        owners = [index for index, entry in enumerate(classes) for _ in range(1 + len(entry["texts"]))]
        self.embeddings = embed(texts).float().cpu()  # [N, D]
        self.owners = torch.tensor(owners)  # [N] class index of each text

    @classmethod
    def from_metadata(cls, metadata: dict, embed: Embed) -> Vocabulary | None:
        """The vocabulary a checkpoint's metadata holds, or None (an open-vocabulary model)."""
        if "vocabulary" not in metadata:
            return None
        return cls(metadata["vocabulary"], embed, metadata.get("unknown_query_threshold"))

    def to_metadata(self) -> dict:
        return {"vocabulary": self.classes, "unknown_query_threshold": self.threshold}

    def similarities(self, conditions: torch.Tensor) -> torch.Tensor:
        """[Q, D] conditions -> [Q, K]: per class, the cosine of its most similar text."""
        text_similarity = conditions.float().cpu() @ self.embeddings.T  # [Q, N]
        per_class = torch.full((len(conditions), len(self.labels)), -1.0)
        return per_class.scatter_reduce(1, self.owners.expand_as(text_similarity), text_similarity, "amax")

    def match(self, conditions: torch.Tensor, top: int = 3) -> list[Match]:
        """[Q, D] -> each condition's `top` nearest classes."""
        values, indices = self.similarities(conditions).topk(min(top, len(self.labels)), dim=1)
        return [
            Match([(self.labels[i], round(v, 4)) for v, i in zip(row_values.tolist(), row_indices.tolist())])
            for row_values, row_indices in zip(values, indices)
        ]

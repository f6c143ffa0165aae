"""What the service says about a query to a closed-vocabulary model: its nearest known sounds (on
every answer: the `X-Nearest-Class` header, `manifest.json` in a ZIP) and, below the threshold, that
it is not a sound the model knows (422 `unknown_query`, naming the nearest ones). An open-vocabulary
model (no `vocabulary`) gets neither. The classes and their similarity are the model's
(model/vocabulary.py); this module only decides and words."""

from __future__ import annotations

import torch

from model.vocabulary import Match, Vocabulary
from service.errors import invalid


def threshold(setting: float | str, vocabulary: Vocabulary | None) -> float | None:
    """The similarity below which a text query is refused: None where nothing is refused."""
    if vocabulary is None or setting == "off":
        return None
    return vocabulary.threshold if setting == "model" else float(setting)


def nearest(vocabulary: Vocabulary | None, conditions: torch.Tensor) -> list[Match] | None:
    return vocabulary.match(conditions) if vocabulary is not None else None


def refuse_unknown(queries: list[str], matches: list[Match], below: float | None) -> None:
    """422 `unknown_query` for the first text query whose nearest class is less similar than `below`."""
    if below is None:
        return
    for query, match in zip(queries, matches):
        if match.similarity < below:
            close = ", ".join(f"{label!r} ({similarity:.2f})" for label, similarity in match.nearest)
            raise invalid(
                "unknown_query",
                f"{query!r} is not a sound this model knows: its nearest are {close}, all below {below:.2f}. "
                "GET /v1/info lists the sounds it knows (`vocabulary`); TEXTSEP_UNKNOWN_QUERY_THRESHOLD=off "
                "separates anyway.",
            )


def header(matches: list[Match]) -> str:
    """`"acoustic guitar";similarity=0.912, speech;similarity=0.655`: one item per query."""
    return ", ".join(f'"{match.label}";similarity={match.similarity:.3f}' for match in matches)


def manifest_entry(match: Match) -> dict:
    return {"label": match.label, "similarity": match.similarity}

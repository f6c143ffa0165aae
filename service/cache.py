"""Query embeddings: an LRU cache in front of the text encoder; misses that arrive together are
encoded together (one encoder call for a burst of new queries instead of one call each).

The encoder sees the query as typed, trimmed, and the cache is keyed on exactly that text: CLAP's
BPE tokenizer is case- and space-sensitive, so "A Dog Barking" and "a dog barking" are different
inputs to it, and folding them here would make the service answer another query than the caller
sent (and than the CLI, which encodes the same text, answers)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

import torch

from service.metrics import Metrics

Key = tuple[str, str]  # (encoder name, the text the encoder is given)


def encoder_text(query: str) -> str:
    """The text the encoder is given for a query: trimmed, nothing else (case and inner spaces
    reach the tokenizer; an encoder that ignores them, like MiniLM's uncased one, does so itself)."""
    return query.strip()


class EmbeddingCache:
    def __init__(
        self,
        embed: Callable[[list[str]], torch.Tensor],
        encoder_name: str,
        size: int,
        metrics: Metrics,
        coalesce_seconds: float = 0.005,
    ):
        self._embed = embed
        self._encoder_name = encoder_name
        self._size = size
        self._metrics = metrics
        self._coalesce_seconds = coalesce_seconds
        self._entries: OrderedDict[Key, torch.Tensor] = OrderedDict()
        self._pending: dict[Key, asyncio.Future] = {}  # misses queued for, or inside, an encoder call
        self._next_batch: list[Key] = []
        self._encoder_calls: set[asyncio.Task] = set()  # a task needs a live reference until it ends

    async def get(self, query: str) -> tuple[torch.Tensor, bool]:
        """The [D] embedding of `query`, and whether it came from the cache."""
        key = (self._encoder_name, encoder_text(query))
        if key in self._entries:
            self._entries.move_to_end(key)
            self._metrics.cache_hits.inc()
            return self._entries[key], True
        self._metrics.cache_misses.inc()
        if key not in self._pending:
            self._pending[key] = asyncio.get_running_loop().create_future()
            self._next_batch.append(key)
            if len(self._next_batch) == 1:  # the first miss of a burst starts the encoder call
                task = asyncio.create_task(self._encode_next_batch())
                self._encoder_calls.add(task)
                task.add_done_callback(self._encoder_calls.discard)
        # shield: one client going away must not cancel an embedding others wait for too
        return await asyncio.shield(self._pending[key]), False

    async def _encode_next_batch(self) -> None:
        await asyncio.sleep(self._coalesce_seconds)  # let the rest of the burst join
        keys, self._next_batch = self._next_batch, []
        try:
            embeddings = await asyncio.to_thread(self._embed, [text for _, text in keys])
        except Exception as error:  # noqa: BLE001 - every request waiting on this call receives it
            for key in keys:
                self._pending.pop(key).set_exception(error)
            return
        for key, embedding in zip(keys, embeddings):
            self._entries[key] = embedding
            self._pending.pop(key).set_result(embedding)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

"""The model and the machinery around it (instances, batcher, embedding cache), and the phase /readyz reports.

This process keeps what a request needs besides the forward pass: the query encoders, the
vocabulary, the plan's chunking; the network runs in the model instances (service/instances.py),
which the one batcher feeds. Loading, choosing the instances and warm-up run in a background thread
so the server answers /healthz and /readyz (503) from its first second; missing model files are
checked before that, so they stop the startup with a message naming the file and the variable that
points at it.
"""

from __future__ import annotations

import enum
import logging
import threading

import torch

from model.separator import Separator
from service import vocabulary
from service.batcher import Batcher
from service.cache import EmbeddingCache
from service.instances import InstancePool, batch_ceiling
from service.metrics import Metrics
from service.settings import Settings, check_model_files

logger = logging.getLogger(__name__)


class Phase(str, enum.Enum):
    LOADING = "loading model"
    WARMING_UP = "warming up"
    READY = "ready"
    DRAINING = "draining"  # SIGTERM: finishing accepted work, taking none
    FAILED = "failed"


def load_separator(settings: Settings) -> Separator:
    """The model the settings name, on their device and dtype; the server and the CLI share it."""
    options = {"device": settings.device, "dtype": settings.dtype}
    for key in ("chunk_seconds", "overlap_seconds"):  # unset: the model's own window
        if getattr(settings, key) is not None:
            options[key] = getattr(settings, key)
    if settings.model == "bundled":
        return Separator.from_pretrained("bundled", **options)
    if settings.model == "audiosep":
        paths = [required.path for required in settings.required_files()]
        return Separator.from_audiosep(*paths, **options)
    return Separator.from_checkpoint(settings.model, **options)


__all__ = ["Phase", "Runtime", "batch_ceiling", "load_separator"]


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings = settings
        self.metrics = metrics
        self.phase = Phase.LOADING
        self.failure: str | None = None
        self.separator: Separator | None = None
        self.pool: InstancePool | None = None
        self.batcher: Batcher | None = None
        self.cache: EmbeddingCache | None = None
        # HTTP requests begun before a drain and not yet answered (service/draining.py counts them):
        # the process may exit once a drain has brought this to 0.
        self.open_requests = 0
        self._lock = threading.Lock()

    @property
    def unknown_query_threshold(self) -> float | None:
        """Below this similarity a text query is refused (model loaded); None: nothing is refused."""
        return vocabulary.threshold(self.settings.unknown_query_threshold, self.separator.vocabulary)

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY

    @property
    def serving(self) -> bool:
        """Ready, and at least one model instance is up (not all of them restarting)."""
        return self.ready and self.pool is not None and self.pool.serving

    def start(self) -> None:
        check_model_files(self.settings)
        threading.Thread(target=self._load, name="model-loader", daemon=True).start()

    def drain(self) -> None:
        """Stop taking new work; what is already accepted still runs to the end."""
        with self._lock:
            self.phase = Phase.DRAINING

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.stop()
        if self.pool is not None:
            self.pool.close()

    def _load(self) -> None:
        settings = self.settings
        try:
            separator = load_separator(settings)
            if separator.device.type == "cuda":  # the instances hold the network: no copy of it here
                separator.model.cpu()
                torch.cuda.empty_cache()
            self._enter(Phase.WARMING_UP)
            chunking = separator.chunking
            self.pool = InstancePool(
                settings,
                self.metrics,
                window=chunking.window,
                short_lengths=chunking.lengths[1:],
                sample_rate=separator.sample_rate,
                condition_size=separator.model.config.condition_size,
            )
            choice = self.pool.start(on_lost=lambda: self.batcher is not None and self.batcher.wake())
            batcher = Batcher(
                self.metrics,
                max_batch=choice.max_batch,
                max_wait_seconds=settings.max_wait_ms / 1000,
                sample_rate=separator.sample_rate,
                max_queue_seconds=settings.max_queue_seconds,
                seconds_per_sample=choice.seconds_per_sample,
            )
            batcher.start(self.pool.instances)
            self.separator, self.batcher = separator, batcher
            self.cache = EmbeddingCache(separator.embed, separator.encoder.name, settings.cache_size, self.metrics)
            self.metrics.model.info(
                {
                    "model": settings.model,
                    "text_encoder": separator.encoder.name,
                    "device": ",".join(choice.devices),
                    "dtype": separator.dtype,
                }
            )
            self._enter(Phase.READY)
            logger.info(
                "model ready: %s on %s (%s), %d instance(s) x %d thread(s), max_batch %d%s",
                settings.model, ",".join(sorted(set(choice.devices))), separator.dtype, choice.instances,
                choice.threads, choice.max_batch, ", compiled" if choice.compiled else "",
            )  # fmt: skip
        except Exception as error:
            logger.exception("loading the model failed")
            self.failure = f"{type(error).__name__}: {error}"
            self._enter(Phase.FAILED)
            if self.pool is not None:
                self.pool.close()

    def _enter(self, phase: Phase) -> None:
        with self._lock:
            if self.phase is not Phase.DRAINING:  # a SIGTERM during startup wins
                self.phase = phase

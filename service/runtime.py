"""The model and the machinery around it (batcher, embedding cache), and the phase /readyz reports.

Loading and warm-up run in a background thread so the server answers /healthz and /readyz (503)
from its first second; missing model files are checked before that, so they stop the startup with
a message naming the file and the variable that points at it.
"""

from __future__ import annotations

import enum
import logging
import threading

from model.separator import Separator
from service import vocabulary
from service.batcher import Batcher
from service.cache import EmbeddingCache
from service.metrics import Metrics
from service.settings import Settings, check_model_files

logger = logging.getLogger(__name__)

AUTO_BATCH_CEILING = 64


class Phase(str, enum.Enum):
    LOADING = "loading model"
    WARMING_UP = "warming up"
    READY = "ready"
    DRAINING = "draining"  # SIGTERM: finishing accepted work, taking none
    FAILED = "failed"


def batch_ceiling(settings: Settings) -> int:
    """max_batch, or the most `auto` may choose."""
    return AUTO_BATCH_CEILING if settings.max_batch == "auto" else settings.max_batch


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


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings = settings
        self.metrics = metrics
        self.phase = Phase.LOADING
        self.failure: str | None = None
        self.separator: Separator | None = None
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

    def _load(self) -> None:
        settings = self.settings
        try:
            separator = load_separator(settings)
            self._enter(Phase.WARMING_UP)
            chunking = separator.chunking
            batcher = Batcher(
                separator.separate_chunks,
                self.metrics,
                max_batch=batch_ceiling(settings),
                max_wait_seconds=settings.max_wait_ms / 1000,
                sample_rate=separator.sample_rate,
                max_queue_seconds=settings.max_queue_seconds,
            )
            warm_up_query = separator.embed(["warm-up"])[0]
            batcher.warm_up(chunking.lengths, warm_up_query, choose_batch=settings.max_batch == "auto")
            batcher.start()
            self.separator, self.batcher = separator, batcher
            self.cache = EmbeddingCache(separator.embed, separator.encoder.name, settings.cache_size, self.metrics)
            self.metrics.model.info(
                {
                    "model": settings.model,
                    "text_encoder": separator.encoder.name,
                    "device": str(separator.device),
                    "dtype": separator.dtype,
                }
            )
            self._enter(Phase.READY)
            logger.info("model ready: %s on %s (%s)", settings.model, separator.device, separator.dtype)
        except Exception as error:
            logger.exception("loading the model failed")
            self.failure = f"{type(error).__name__}: {error}"
            self._enter(Phase.FAILED)

    def _enter(self, phase: Phase) -> None:
        with self._lock:
            if self.phase is not Phase.DRAINING:  # a SIGTERM during startup wins
                self.phase = phase

"""Prometheus metrics (one registry per app, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300)
QUEUE_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, max_batch: int):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "textsep_requests", "HTTP requests by route and status.", ["route", "status"], registry=registry
        )
        self.latency = Histogram(
            "textsep_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "textsep_queue_wait_seconds",
            "From a request's chunks entering the batcher to its first chunk running.",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "textsep_batch_size", "Chunks per forward pass.", buckets=range(1, max_batch + 1), registry=registry
        )
        self.chunk_audio_seconds = Counter(
            "textsep_chunk_audio_seconds",
            "Model input (seconds of chunk audio at the model rate) run through the network: its work.",
            registry=registry,
        )
        self.audio_seconds = Counter(
            "textsep_audio_seconds", "Seconds of uploaded audio separated, summed over channels.", registry=registry
        )
        self.cache_hits = Counter(
            "textsep_embedding_cache_hits", "Queries found in the embedding cache.", registry=registry
        )
        self.cache_misses = Counter(
            "textsep_embedding_cache_misses", "Queries that needed the text encoder.", registry=registry
        )
        self.queue_seconds = Gauge(
            "textsep_queue_seconds", "Chunk audio (seconds) waiting for inference.", registry=registry
        )
        self.queue_chunks = Gauge("textsep_queue_chunks", "Chunks waiting for inference.", registry=registry)
        self.batcher_requests = Gauge(
            "textsep_batcher_requests", "Requests with chunks waiting or running in the batcher.", registry=registry
        )
        self.dropped_chunks = Counter(
            "textsep_dropped_chunks", "Queued chunks dropped because their client disconnected.", registry=registry
        )
        self.requeued_chunks = Counter(
            "textsep_requeued_chunks", "Chunks run again because their model instance died.", registry=registry
        )
        self.instance_busy_seconds = Counter(
            "textsep_instance_busy_seconds",
            "Seconds each model instance spent running batches (from hand-over to results back).",
            ["instance"],
            registry=registry,
        )
        self.instance_up = Gauge(
            "textsep_instance_up", "Whether each model instance is serving (1) or starting (0).", ["instance"],
            registry=registry,
        )  # fmt: skip
        self.instance_restarts = Counter(
            "textsep_instance_restarts", "Model instances restarted after their process died.", ["instance"],
            registry=registry,
        )  # fmt: skip
        self.instances = Info(
            "textsep_instances",
            "How the model runs: instances (processes), torch threads each, max_batch, compiled or not, and how "
            "that was chosen.",
            registry=registry,
        )
        self.model = Info("textsep_model", "The loaded model: preset, text encoder, device, dtype.", registry=registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

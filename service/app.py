"""The FastAPI app: `create_app(settings)` and its routes.

The /separate handler is the whole request path, top to bottom: limits -> decode -> resample ->
query embedding (cache) -> chunks -> batcher -> overlap-add -> resample back -> encode.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Annotated

import torch
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, StringConstraints

from model.separator import fit_length, resample
from service import audio
from service.batcher import Batcher, Job, QueueFull
from service.errors import ApiError, documented, install_error_handlers, unavailable
from service.metrics import Metrics, StageTimer
from service.middleware import RequestContext, UploadLimit
from service.runtime import Phase, Runtime
from service.settings import Settings

MAX_QUERY_CHARS = 512
NOT_READY_RETRY_S = 5
INPUT_FORMATS = ["wav", "flac", "ogg", "mp3"]

AudioUpload = Annotated[
    UploadFile, File(description="Audio: WAV, FLAC, OGG or MP3; any sample rate and channel count.")
]
QueryText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS),
    Form(description=f"The sound to extract, e.g. `a dog barking`; 1-{MAX_QUERY_CHARS} characters after trimming."),
]
FormatChoice = Annotated[audio.OutputFormat, Form(description="Container of the answer.")]
SubtypeChoice = Annotated[audio.OutputSubtype, Form(description="Sample format of the answer; FLAC holds PCM_16 only.")]


class Status(BaseModel):
    status: str = Field(
        description="`ok`/`ready`, or why not: `loading model`, `warming up`, `draining`, `failed: ...`."
    )


class BatchingInfo(BaseModel):
    max_batch: int = Field(description="Most chunks per forward pass.")
    max_wait_ms: float = Field(description="Longest wait for a batch to fill.")
    chunk_seconds: float = Field(description="Chunk length: the unit of batching.")
    overlap_seconds: float = Field(description="Cross-fade between neighbouring chunks.")


class LimitsInfo(BaseModel):
    max_upload_bytes: int
    max_seconds: float
    max_channels: int
    max_queue_seconds: float
    max_query_chars: int


class Info(BaseModel):
    model: str = Field(description="The model setting: `bundled`, `audiosep` or a checkpoint path.")
    sample_rate: int = Field(description="The rate the model runs at; uploads are resampled to it and back.")
    text_encoder: str
    device: str
    dtype: str
    batching: BatchingInfo
    limits: LimitsInfo
    input_formats: list[str]
    output_formats: list[str]
    output_subtypes: list[str]


AUDIO_ANSWER = {
    "description": "The separated sound: the upload's sample rate, channel count and exact length.",
    "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for _, content_type in audio.OUTPUT_FORMATS.values()
    },
    "headers": {
        "X-Request-ID": {
            "description": "The client's X-Request-ID if it sent one, else a new one.",
            "schema": {"type": "string"},
        },
        "X-Embedding-Cache": {
            "description": "`hit` or `miss`: whether the query's embedding was cached.",
            "schema": {"type": "string"},
        },
        "Server-Timing": {
            "description": "Milliseconds per stage: decode, embed, queue, inference, encode.",
            "schema": {"type": "string"},
        },
    },
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.max_batch)
    runtime = Runtime(settings, metrics)
    limits = audio.Limits(max_seconds=settings.max_seconds, max_channels=settings.max_channels)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime.start()  # returns at once; the model loads and warms up in the background
        yield
        runtime.close()  # uvicorn has answered every accepted request by now

    app = FastAPI(
        title="textsep",
        summary="Text-queried sound separation (AudioSep): upload audio, describe a sound, get that sound back.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(RequestContext, metrics=metrics)
    install_error_handlers(app)

    def require_ready() -> None:
        if not runtime.ready:
            raise unavailable("not_ready", f"the server is not ready: {runtime.phase.value}", NOT_READY_RETRY_S)

    @app.post(
        "/separate",
        summary="Extract the sound a text query describes",
        response_class=Response,
        responses={200: AUDIO_ANSWER, **documented(400, 413, 415, 422, 503)},
    )
    async def separate(
        request: Request,
        file: AudioUpload,
        query: QueryText,
        format: FormatChoice = "wav",
        subtype: SubtypeChoice = "PCM_16",
    ) -> Response:
        require_ready()
        audio.check_output(format, subtype)
        separator, batcher, timer = runtime.separator, runtime.batcher, StageTimer()
        with timer.stage("decode"):
            upload = await asyncio.to_thread(audio.decode, file.file, limits)
            at_model_rate = await asyncio.to_thread(resample, upload.samples, upload.sample_rate, separator.sample_rate)
        with timer.stage("embed"):
            embedding, cache_hit = await runtime.cache.get(query)
        chunks = separator.chunking.split(torch.from_numpy(at_model_rate))  # [channels, n, window]
        try:  # every channel is a mono signal of its own: the batcher sees channels x n chunks
            job = batcher.submit(chunks.reshape(-1, chunks.shape[-1]), embedding)
        except QueueFull as full:
            raise unavailable("queue_full", str(full), full.retry_after_s) from None
        separated = await result_unless_disconnected(job, batcher, request)
        timer.add("queue", job.queue_seconds)
        timer.add("inference", job.inference_seconds)
        with timer.stage("encode"):
            merged = await asyncio.to_thread(
                separator.chunking.merge, separated.reshape(chunks.shape), at_model_rate.shape[-1]
            )
            restored = await asyncio.to_thread(resample, merged.numpy(), separator.sample_rate, upload.sample_rate)
            body = await asyncio.to_thread(
                audio.encode, fit_length(restored, upload.frames), upload.sample_rate, format, subtype
            )
        metrics.audio_seconds.inc(upload.seconds * upload.channels)
        return Response(
            body,
            media_type=audio.OUTPUT_FORMATS[format][1],
            headers={"Server-Timing": timer.header(), "X-Embedding-Cache": "hit" if cache_hit else "miss"},
        )

    @app.get(
        "/healthz",
        summary="Liveness",
        response_model=Status,
        responses={503: {"model": Status, "description": "Loading the model failed."}},
    )
    async def healthz() -> JSONResponse:
        if runtime.phase is Phase.FAILED:
            return JSONResponse({"status": f"failed: {runtime.failure}"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        summary="Readiness: model loaded and warmed up",
        response_model=Status,
        responses={503: {"model": Status, "description": "Loading, warming up, draining after SIGTERM, or failed."}},
    )
    async def readyz() -> JSONResponse:
        if runtime.ready:
            return JSONResponse({"status": "ready"})
        reason = f"failed: {runtime.failure}" if runtime.phase is Phase.FAILED else runtime.phase.value
        return JSONResponse({"status": reason}, status_code=503)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format.",
                "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/info", summary="Model, device, batching and limits", response_model=Info, responses=documented(503))
    async def info() -> Info:
        require_ready()
        separator = runtime.separator
        chunking = separator.chunking
        return Info(
            model=settings.model,
            sample_rate=separator.sample_rate,
            text_encoder=separator.encoder.name,
            device=str(separator.device),
            dtype=separator.dtype,
            batching=BatchingInfo(
                max_batch=settings.max_batch,
                max_wait_ms=settings.max_wait_ms,
                chunk_seconds=chunking.window / separator.sample_rate,
                overlap_seconds=chunking.overlap / separator.sample_rate,
            ),
            limits=LimitsInfo(
                max_upload_bytes=settings.max_upload_bytes,
                max_seconds=settings.max_seconds,
                max_channels=settings.max_channels,
                max_queue_seconds=settings.max_queue_seconds,
                max_query_chars=MAX_QUERY_CHARS,
            ),
            input_formats=INPUT_FORMATS,
            output_formats=list(audio.OUTPUT_FORMATS),
            output_subtypes=list(audio.OUTPUT_SUBTYPES),
        )

    return app


async def result_unless_disconnected(job: Job, batcher: Batcher, request: Request) -> torch.Tensor:
    """The job's separated chunks; if the client hangs up first (or this handler is cancelled),
    its chunks still in the queue are dropped instead of computed for nobody."""
    disconnected = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        await asyncio.wait([job.done, disconnected], return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected.cancel()
        if not job.done.done():
            batcher.cancel(job)
    if not job.done.done():
        raise ApiError(499, "client_disconnected", "the client closed the connection")  # nginx's code; logged only
    return job.done.result()


async def wait_for_disconnect(request: Request) -> None:
    # The body has been read, so the next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass

"""The FastAPI app: `create_app(settings)` and its routes.

The /separate handler is the request path, top to bottom: limits -> decode -> query conditions
(embedding cache) -> the model's plan (resample, windows) -> `Separation` through the batcher ->
the plan's stems (overlap-add, resample back, residual) -> encode. It keeps only bytes and HTTP.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import torch
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, StringConstraints

from model.plan import Stems
from model.separator import QueryByExampleUnavailable, Separator, joint_condition
from service import audio, vocabulary
from service.access_log import AccessLog
from service.auth import ApiKeys
from service.batcher import QueueFull
from service.draining import DrainGate
from service.errors import ApiError, documented, install_error_handlers, invalid, unavailable
from service.instances import InstancesInfo, describe
from service.metrics import Metrics
from service.middleware import RequestContext, RequestTimeout, UploadLimit
from service.page import install_docs, install_page
from service.record import RequestRecord
from service.runtime import Phase, Runtime, batch_ceiling
from service.separation import Separation
from service.settings import Settings
from service.stems import RESIDUAL, ZIP_TYPE, Mode, StreamedWav, attachment, encode_stems, named, stem_names

MAX_QUERY_CHARS = 512
# What people send instead of the form's field names (the closest spelling is suggested otherwise).
FIELD_SYNONYMS = {"audio": "file", "upload": "file", "sound": "file", "input": "file", "text": "query",
                  "prompt": "query", "q": "query", "queries": "query", "example": "query_audio"}  # fmt: skip
MAX_QUERY_AUDIO_SECONDS = 30.0
NOT_READY_RETRY_S = 5
INPUT_FORMATS = ["wav", "flac", "ogg", "mp3"]

AudioUpload = Annotated[
    UploadFile, File(description="Audio: WAV, FLAC, OGG or MP3; any sample rate and channel count.")
]
QueryText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)]
Queries = Annotated[
    list[QueryText] | None,
    Form(
        description=f"The sound to extract, e.g. `a dog barking`; 1-{MAX_QUERY_CHARS} characters after trimming. "
        "Repeat the field for several sounds from one upload (at most `limits.max_queries` of `/v1/info`). "
        "Needed unless `query_audio` is given."
    ),
]
QueryAudio = Annotated[
    UploadFile | None,
    File(
        description=f"Query by example: a short recording (at most {MAX_QUERY_AUDIO_SECONDS} s) of the sound to "
        "extract, instead of or besides one text `query` (then both describe the sound). Needs a model with an "
        "audio-query encoder (422 `query_by_example_unavailable` otherwise)."
    ),
]
ModeChoice = Annotated[
    Mode,
    Form(
        description="`extract` the queried sound, `remove` it (the upload minus it: the residual), or `both` "
        "(a ZIP of the two). Several queries answer a ZIP of one file per query plus `residual` (the upload "
        "minus all of them) and `manifest.json`; with `remove`, the residual alone."
    ),
]
StreamChoice = Annotated[
    bool,
    Form(
        description="Send the WAV as its chunks finish (chunked transfer; exact header up front). One query, mode "
        "`extract` or `remove`, format `wav` only. An error after the first byte cuts the body short: a "
        "streamed answer is complete only if the connection ended cleanly."
    ),
]
FormatChoice = Annotated[audio.OutputFormat, Form(description="Container of the answer.")]
SubtypeChoice = Annotated[
    audio.OutputSubtype | None,
    Form(
        description="Sample format of the answer; FLAC holds PCM_16 only. Default: FLOAT for a float upload (so "
        "samples beyond full scale survive), else PCM_16. A PCM_16 answer that had to clip says how many samples "
        "in `X-Clipped-Samples`."
    ),
]


class Status(BaseModel):
    status: str = Field(
        description="`ok`/`ready`, or why not: `loading model`, `warming up`, `draining`, `failed: ...`."
    )


class BatchingInfo(BaseModel):
    max_batch: int = Field(description="Most chunks per forward pass (chosen at warm-up if the setting is `auto`).")
    max_wait_ms: float = Field(description="Longest wait for a batch to fill.")
    chunk_seconds: float = Field(description="Chunk length: the unit of batching.")
    overlap_seconds: float = Field(description="Cross-fade between neighbouring chunks.")


class LimitsInfo(BaseModel):
    max_upload_bytes: int
    max_seconds: float
    max_channels: int
    max_queue_seconds: float
    max_query_chars: int
    max_queries: int = Field(description="Most `query` fields in one request.")
    max_query_audio_seconds: float = Field(description="Longest `query_audio` recording.")


class Info(BaseModel):
    model: str = Field(description="The model setting: `bundled`, `audiosep` or a checkpoint path.")
    sample_rate: int = Field(description="The rate the model runs at; uploads are resampled to it and back.")
    text_encoder: str
    device: str
    dtype: str
    batching: BatchingInfo
    instances: InstancesInfo = Field(description="How the model runs: its instances, and how that was chosen.")
    limits: LimitsInfo
    input_formats: list[str]
    output_formats: list[str]
    output_subtypes: list[str]
    vocabulary: list[str] | None = Field(
        description="The sounds a closed-vocabulary model knows (its classes); null for an open-vocabulary model."
    )
    unknown_query_threshold: float | None = Field(
        description="Text queries less similar than this to every sound in `vocabulary` get 422 `unknown_query`; "
        "null: none are refused."
    )


SEPARATE_EXAMPLES = """Each option, with `examples/speech-and-piano.wav` from the repository against `make serve`:

```sh
mkdir -p /tmp/textsep   # the answers go here, out of the repository
# extract (default): the sound the query describes
curl -sS -F file=@examples/speech-and-piano.wav -F query="a man speaking" -o /tmp/textsep/speech.wav http://localhost:8000/separate
# format and subtype of the answer
curl -sS -F file=@examples/speech-and-piano.wav -F query="piano" -F format=flac -o /tmp/textsep/piano.flac http://localhost:8000/separate
curl -sS -F file=@examples/speech-and-piano.wav -F query="piano" -F subtype=FLOAT -o /tmp/textsep/piano-float.wav http://localhost:8000/separate
# remove: the upload minus the sound; both: a ZIP of the two
curl -sS -F file=@examples/speech-and-piano.wav -F query="piano" -F mode=remove -o /tmp/textsep/without-piano.wav http://localhost:8000/separate
curl -sS -F file=@examples/speech-and-piano.wav -F query="piano" -F mode=both -o /tmp/textsep/piano-and-rest.zip http://localhost:8000/separate
# several queries: a ZIP of one WAV per query, residual.wav and manifest.json
curl -sS -F file=@examples/speech-and-piano.wav -F query="a man speaking" -F query="piano" -o /tmp/textsep/stems.zip http://localhost:8000/separate
# stream=true: the WAV arrives as its chunks finish; an error after the first byte truncates the body
curl -sS -N -F file=@examples/speech-and-piano.wav -F query="piano" -F stream=true -o /tmp/textsep/piano-streamed.wav http://localhost:8000/separate
# query_audio: an example recording of the sound, alone or with one text query
curl -sS -F file=@examples/speech-and-piano.wav -F query_audio=@examples/speech-and-piano.speech.wav -o /tmp/textsep/by-example.wav http://localhost:8000/separate
```
"""

SEPARATE_ANSWER = {
    "description": "The separated sound (or the residual), with the upload's sample rate, channel count and "
    "exact length; a ZIP (one file per query, `residual`, `manifest.json`) for several queries or mode `both`.",
    "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for content_type in [*(content_type for _, content_type in audio.OUTPUT_FORMATS.values()), ZIP_TYPE]
    },
    "headers": {
        "X-Request-ID": {
            "description": "The client's X-Request-ID if it sent one, else a new one.",
            "schema": {"type": "string"},
        },
        "Content-Disposition": {
            "description": "`attachment` with a file name made of the upload's and the answer's "
            "(`speech-and-piano-piano.wav`, `speech-and-piano-stems.zip`).",
            "schema": {"type": "string"},
        },
        "X-Nearest-Class": {
            "description": "Closed-vocabulary models: per query (comma-separated) the nearest sound the model "
            'knows and its similarity, e.g. `"speech";similarity=0.912`.',
            "schema": {"type": "string"},
        },
        "X-Clipped-Samples": {
            "description": "Only when a PCM_16 answer had to clip: how many samples were beyond full scale (ask "
            "for `subtype=FLOAT` to keep them).",
            "schema": {"type": "integer"},
        },
        "X-Embedding-Cache": {
            "description": "`hit` or `miss` per query (comma-separated): whether its embedding was cached.",
            "schema": {"type": "string"},
        },
        "Server-Timing": {
            "description": "Milliseconds per stage: decode, embed, queue, inference, encode (not when streamed).",
            "schema": {"type": "string"},
        },
    },
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(batch_ceiling(settings))
    runtime = Runtime(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime.start()  # returns at once; the model loads and warms up in the background
        yield
        runtime.close()  # uvicorn has answered every accepted request by now

    app = FastAPI(
        title="textsep",
        summary="Text-queried sound separation (AudioSep): upload audio, describe a sound, get that sound back.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from install_docs: assets served here, not from a CDN
        redoc_url=None,
    )
    app.state.runtime, app.state.settings, app.state.metrics = runtime, settings, metrics
    # The last added runs first: context (ID, metrics, log) > keys > drain > timeout > upload limits > app.
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes, timeout_s=settings.upload_timeout_s)
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_s)
    app.add_middleware(DrainGate, runtime=runtime)  # after SIGTERM: 503 for new work, count what is open
    if keys := settings.keys:
        app.add_middleware(ApiKeys, keys=keys, metrics_need_key=settings.metrics_need_key)
    app.add_middleware(RequestContext, metrics=metrics, access_log=AccessLog(settings.log_queries))
    install_error_handlers(app)
    app.state.form_check = unknown_form_fields
    install_page(app)
    install_docs(app)

    app.post(
        "/separate",
        summary="Extract or remove the sounds that queries describe",
        description=SEPARATE_EXAMPLES,
        response_class=Response,
        responses={200: SEPARATE_ANSWER, **documented(400, 401, 408, 413, 415, 422, 503)},
    )(separate)

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
        responses={
            503: {
                "model": Status,
                "description": "Loading, warming up, draining after SIGTERM, failed, or every model instance restarting.",
            }
        },
    )
    async def readyz() -> JSONResponse:
        if runtime.serving:
            return JSONResponse({"status": "ready"})
        if runtime.ready:  # every instance died at once: /separate still queues, their restart will run it
            return JSONResponse({"status": "restarting: no model instance is serving"}, status_code=503)
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

    @app.get("/v1/info", summary="Model, device, batching and limits", response_model=Info, responses=documented(401, 503))
    async def info() -> Info:
        require_ready(runtime)
        separator = runtime.separator
        chunking = separator.chunking
        return Info(
            model=settings.model,
            sample_rate=separator.sample_rate,
            text_encoder=separator.encoder.name,
            device=str(separator.device),
            dtype=separator.dtype,
            batching=BatchingInfo(
                max_batch=runtime.batcher.max_batch,
                max_wait_ms=settings.max_wait_ms,
                chunk_seconds=chunking.window / separator.sample_rate,
                overlap_seconds=chunking.overlap / separator.sample_rate,
            ),
            instances=describe(runtime.pool),
            limits=LimitsInfo(
                max_upload_bytes=settings.max_upload_bytes,
                max_seconds=settings.max_seconds,
                max_channels=settings.max_channels,
                max_queue_seconds=settings.max_queue_seconds,
                max_query_chars=MAX_QUERY_CHARS,
                max_queries=settings.max_queries,
                max_query_audio_seconds=MAX_QUERY_AUDIO_SECONDS,
            ),
            input_formats=INPUT_FORMATS,
            output_formats=list(audio.OUTPUT_FORMATS),
            output_subtypes=list(audio.OUTPUT_SUBTYPES),
            vocabulary=separator.vocabulary.labels if separator.vocabulary is not None else None,
            unknown_query_threshold=runtime.unknown_query_threshold,
        )

    return app


async def separate(
    request: Request,
    file: AudioUpload,
    query: Queries = None,
    query_audio: QueryAudio = None,
    mode: ModeChoice = "extract",
    stream: StreamChoice = False,
    format: FormatChoice = "wav",
    subtype: SubtypeChoice = None,
) -> Response:
    """Validate, decode, embed, start the separation, answer: the model's plan owns the arrays."""
    if (unknown := await unknown_form_fields(request)) is not None:
        raise unknown
    runtime, settings, metrics = request.app.state.runtime, request.app.state.settings, request.app.state.metrics
    record, queries = RequestRecord.of(request), query or []
    record.queries = queries  # logged only if TEXTSEP_LOG_QUERIES says so
    require_ready(runtime)
    if subtype is not None:
        audio.check_output(format, subtype)
    check_options(queries, query_audio is not None, mode, stream, format, settings.max_queries)
    separator = runtime.separator
    with record.stage("decode"):
        limits = audio.Limits.from_settings(settings)
        upload = await asyncio.to_thread(audio.decode, file.file, limits)
        record.audio_seconds = upload.seconds
        subtype = audio.answer_subtype(subtype, format, upload)
    with record.stage("embed"):
        conditions, hits = await embed_queries(runtime, queries, query_audio, settings.max_channels)
        matches = vocabulary.nearest(separator.vocabulary, conditions)
        if matches is not None and query_audio is None:  # an example recording says what it is itself
            vocabulary.refuse_unknown(queries, matches, runtime.unknown_query_threshold)
    with record.stage("plan"):
        plan = await asyncio.to_thread(separator.plan, upload.samples, upload.sample_rate, conditions, mode)
    try:
        separation = Separation(runtime.batcher, plan)
    except QueueFull as full:
        raise unavailable("queue_full", str(full), full.retry_after_s) from None
    headers = {"X-Embedding-Cache": ",".join("hit" if hit else "miss" for hit in hits)}
    if matches is not None:
        headers["X-Nearest-Class"] = vocabulary.header(matches)
    if stream:  # one stem: the query's, or the residual
        stem = stem_names(queries or ["query audio"])[0] if mode == "extract" else RESIDUAL
        headers["Content-Disposition"] = attachment(file.filename, f"{stem}.wav")
        body = streamed_body(separation, StreamedWav(upload, subtype), metrics)
        return StreamingResponse(body, media_type="audio/wav", headers=headers)
    stems = await result_unless_disconnected(separation, request)
    for stage, seconds in separation.stages.items():
        record.add(stage, seconds)
    with record.stage("encode"):
        names = stem_names(queries or ["query audio"])
        example_name = query_audio.filename if query_audio is not None else None
        answer = await asyncio.to_thread(
            encode_stems, named(names, stems), dict(zip(names, queries)), mode, upload.sample_rate, format, subtype,
            example_name, dict(zip(names, map(vocabulary.manifest_entry, matches or []))),
        )  # fmt: skip
    metrics.audio_seconds.inc(upload.seconds * upload.channels)
    headers["Content-Disposition"] = attachment(file.filename, answer.name)
    if answer.clipped_samples:
        headers["X-Clipped-Samples"] = str(answer.clipped_samples)
    headers["Server-Timing"] = record.server_timing()
    return Response(answer.body, media_type=answer.media_type, headers=headers)


async def unknown_form_fields(request: Request) -> ApiError | None:
    """422 `unknown_field` naming the form fields a route does not take, each with the one likely
    meant: a misspelt option would otherwise be ignored (`mdoe=remove` answering the extraction)."""
    route = request.scope.get("route")
    expected = [param.alias for param in getattr(getattr(route, "dependant", None), "body_params", [])]
    if not expected or not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - not a readable form: the route's own validation says what is wrong
        return None
    unknown = [name for name in dict.fromkeys(form.keys()) if name not in expected]
    if not unknown:
        return None

    def meant(name: str) -> str:
        close = difflib.get_close_matches(name.lower(), expected, n=1, cutoff=0.6)
        guess = FIELD_SYNONYMS.get(name.lower()) or (close[0] if close else None)
        return f"`{name}` (did you mean `{guess}`?)" if guess else f"`{name}`"

    taken = ", ".join(f"`{name}`" for name in expected)
    return invalid("unknown_field", f"unknown form field {', '.join(map(meant, unknown))}; this route takes {taken}")


def require_ready(runtime: Runtime) -> None:
    if not runtime.ready:
        raise unavailable("not_ready", f"the server is not ready: {runtime.phase.value}", NOT_READY_RETRY_S)


async def embed_queries(
    runtime: Runtime, queries: list[str], query_audio: UploadFile | None, max_channels: int
) -> tuple[torch.Tensor, list[bool]]:
    """The conditions [Q, D] of the text queries (from the cache: whether each was a hit), each
    joined with the example recording's if one came; the example's alone if there is no text."""
    embedded = await asyncio.gather(*(runtime.cache.get(text) for text in queries))
    conditions, hits = [condition for condition, _ in embedded], [hit for _, hit in embedded]
    if query_audio is not None:
        limits = audio.Limits(max_seconds=MAX_QUERY_AUDIO_SECONDS, max_channels=max_channels)
        example = await asyncio.to_thread(embed_example, runtime.separator, query_audio, limits)
        conditions, hits = [joint_condition(text, example) for text in conditions] or [example], hits or [False]
    return torch.stack(conditions), hits


def check_options(queries: list[str], example: bool, mode: Mode, stream: bool, format: str, max_queries: int) -> None:
    if not queries and not example:
        raise invalid("missing_query", "give a text `query`, a `query_audio` recording, or both")
    if len(queries) > max_queries:
        raise invalid("too_many_queries", f"{len(queries)} queries; this server takes at most {max_queries}")
    if example and len(queries) > 1:
        raise invalid("too_many_queries", "`query_audio` goes with one text `query` at most")
    if stream and (len(queries) > 1 or mode == "both" or format != "wav"):
        raise invalid(
            "stream_unsupported", "stream=true returns one WAV: use one query, mode extract or remove, and format wav"
        )


def embed_example(separator: Separator, upload: UploadFile, limits: audio.Limits) -> torch.Tensor:
    """The condition [D] of a `query_audio` recording; its errors name the field."""
    try:
        example = audio.decode(upload.file, limits)
        return separator.embed_audio(example.samples, example.sample_rate)
    except ApiError as error:
        raise ApiError(error.status_code, error.code, f"query_audio: {error.detail}") from None
    except QueryByExampleUnavailable as error:
        raise invalid("query_by_example_unavailable", str(error)) from None


async def streamed_body(separation: Separation, wav: StreamedWav, metrics: Metrics) -> AsyncIterator[bytes]:
    """The WAV header, then each piece of samples as the plan's stream makes it final. If inference
    fails after the header, the error propagates and uvicorn closes the connection without the final
    empty chunk: the client sees a truncated body, never a complete file with a gap. If the client
    leaves mid-stream (we are cancelled), `pieces` drops the chunks that have not run."""
    yield wav.header()
    async for piece in separation.pieces():
        yield await asyncio.to_thread(wav.samples, piece)
    metrics.audio_seconds.inc(wav.upload.seconds * wav.upload.channels)


async def result_unless_disconnected(separation: Separation, request: Request) -> Stems:
    """The separation's stems; if the client hangs up first (or this handler is cancelled), its
    chunks still in the queue are dropped instead of computed for nobody."""
    result = asyncio.ensure_future(separation.result())
    disconnected = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        await asyncio.wait([result, disconnected], return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected.cancel()
        gone = not result.done()
        if gone:
            separation.cancel()
            result.cancel()
    if gone:
        raise ApiError(499, "client_disconnected", "the client closed the connection")  # nginx's code; logged only
    return result.result()


async def wait_for_disconnect(request: Request) -> None:
    # The body has been read, so the next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass

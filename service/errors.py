"""One error shape for every failure: `{"error": {"code": ..., "message": ...}}` with the right status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

# Starlette and FastAPI raise plain HTTPExceptions (bad multipart, unknown path, wrong method).
CODES_BY_STATUS = {400: "malformed_form", 404: "not_found", 405: "method_not_allowed"}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable reason, e.g. `audio_too_long`.")
    message: str = Field(description="What went wrong, for people.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ApiError(HTTPException):
    """A failure the client is told about. An HTTPException, so that it passes unchanged through
    FastAPI's body parsing when raised from inside `receive` (the upload limit)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status, message, headers)
        self.code = code


def too_large(code: str, message: str) -> ApiError:
    return ApiError(413, code, message)


def unsupported_audio(message: str) -> ApiError:
    return ApiError(415, "unsupported_audio", message)


def invalid(code: str, message: str) -> ApiError:
    return ApiError(422, code, message)


def unavailable(code: str, message: str, retry_after_s: int) -> ApiError:
    return ApiError(503, code, message, {"Retry-After": str(max(1, retry_after_s))})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def on_http_error(request: Request, error: HTTPException) -> JSONResponse:
    code = getattr(error, "code", None) or CODES_BY_STATUS.get(error.status_code, f"http_{error.status_code}")
    return error_response(error.status_code, code, str(error.detail), error.headers)


MISSING_FILE = "the form has no `file` field: send the audio as a file part named `file` (curl: -F file=@sound.wav)"
# The route's own check of a form's field names: an ApiError naming fields it does not take, or None.
FormCheck = Callable[[Request], Awaitable["ApiError | None"]]


async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422 body, reshaped. A field the route does not take explains most missing ones
    (`-F audio=@f` for `file`), so that is said first (422 `unknown_field`). Otherwise no usable
    `file` part means the form itself is malformed (400); anything else is an unacceptable value of a
    named field (422). Forms cannot tell an empty field from a missing one, so a missing query is a
    bad query too."""
    check: FormCheck | None = getattr(request.app.state, "form_check", None)
    if check is not None and (unknown := await check(request)) is not None:
        return error_response(unknown.status_code, unknown.code, unknown.detail)
    problems = error.errors()
    fields = [str(problem["loc"][1 if len(problem["loc"]) > 1 else 0]) for problem in problems]  # ("body", name, ...)
    message = "; ".join(
        MISSING_FILE if (field, problem["type"]) == ("file", "missing") else f"{field}: {problem['msg']}"
        for field, problem in zip(fields, problems)
    )
    if "file" in fields:
        return error_response(400, "malformed_form", message)
    return error_response(422, f"invalid_{fields[0]}", message)


async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette re-raises the error after this answer, and uvicorn logs it with its traceback.
    return error_response(500, "internal_error", "the server failed to handle this request")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)


ERROR_DESCRIPTIONS = {
    400: "Malformed multipart form: not multipart, a required field missing, or `file` not a file.",
    401: "API keys are configured and the request has no valid `Authorization: Bearer <key>`.",
    408: "The upload took longer than the server's upload timeout to arrive.",
    413: "Upload too large (bytes) or too long (seconds), or too many channels.",
    415: "The file is not audio this server can decode (WAV, FLAC, OGG, MP3).",
    422: "Unacceptable field value: query empty or over 512 characters, more queries than `max_queries` "
    "(`too_many_queries`), unknown mode, format or subtype, `stream=true` with several queries, mode `both` or "
    "FLAC (`stream_unsupported`), an empty file (`empty_file`) or audio (`empty_audio`), a form field the route "
    "does not take (`unknown_field`, naming the one likely meant), a query for a sound the model does not know "
    "(`unknown_query`, naming the nearest ones it does).",
    503: "Not ready (loading, warming up, shutting down) or the queue is full: retry after `Retry-After` "
    "seconds; or not answered within the server's request timeout.",
}


def documented(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    return {status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}

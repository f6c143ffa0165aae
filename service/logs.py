"""How the process logs, by `TEXTSEP_LOG_FORMAT`: `text` (the default) or `json`.

The access log is one JSON object a line on stdout either way (`service/access_log.py`). `text`
leaves everything else as people read it: uvicorn's own lines and the application's on stderr, in
their usual formats. `json` makes the whole output one stream a machine can read: uvicorn's lines,
the application's, Python warnings and tracebacks all go to stdout as one JSON object a line,
`{"time", "level", "logger", "message", ...}` (a traceback is the `exc_info` field of its line),
beside the access lines, which keep their own fields.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS

from service import access_log

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn adds an ANSI-coloured copy of some messages for terminals; a JSON line does without it.
NOT_FIELDS = [*RESERVED_ATTRS, "color_message", "taskName"]


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        reserved_attrs=NOT_FIELDS,
    )


def configure(log_format: LogFormat, transformers: bool = True) -> None:
    """The application's loggers and the access log, before anything logs. `transformers=False`: a
    process that never loads it (a model instance) does not import it just to quiet it."""
    access_log.configure()
    transformers_logging = import_transformers_logging() if transformers else None
    if transformers_logging is not None and not sys.stderr.isatty():
        transformers_logging.disable_progress_bar()  # its "Loading weights" bar: a terminal's, not a log's
    if log_format == "text":
        logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
        return
    handler = logging.StreamHandler(sys.stdout)  # the access log's stream: one stream in all
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # `warnings.warn` would print plain text to stderr
    if transformers_logging is not None:  # it has a plain-text stderr handler of its own
        transformers_logging.disable_default_handler()
        transformers_logging.enable_propagation()


def import_transformers_logging():
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # the service runs without transformers only if no encoder needs it
        return None
    return transformers_logging


def uvicorn_log_config(log_format: LogFormat) -> dict | None:
    """uvicorn's `log_config`: its own default for `text`; for `json`, its loggers hand their lines
    to the root logger configured above instead of keeping handlers of their own."""
    if log_format == "text":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
    }

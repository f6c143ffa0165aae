"""`textsep serve` runs the REST service; `textsep separate PATH... --query ... -o OUT` runs the same
model and batcher in-process over files, folders or globs. Both read the same `TEXTSEP_*` settings."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import get_args

import uvicorn
from pydantic import ValidationError

from service import logs
from service.app import create_app
from service.draining import DrainingServer
from service.files import separate_files
from service.settings import ConfigurationError, Settings, check_model_files, describe_validation_error
from service.stems import Mode

STARTUP_FAILED = 3  # uvicorn's own exit code for a failed startup


def serve(settings: Settings) -> int:
    app = create_app(settings)
    # access_log=False: the JSON access log (service/access_log.py) replaces uvicorn's
    log_config = logs.uvicorn_log_config(settings.log_format)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", log_config=log_config, access_log=False
    )
    server = DrainingServer(config, app.state.runtime)
    # After its graceful shutdown uvicorn re-raises the signal it caught. By then every accepted
    # request has been answered, so that is a clean exit, not death by signal.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda signum, frame: sys.exit(0))
    server.run()
    return 0 if server.started else STARTUP_FAILED


def query_text(text: str) -> str:
    """A --query as the encoder will see it: trimmed, as the service trims its `query` fields, so
    that the CLI and the service answer the same text with the same audio."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a query needs at least one character that is not a space")
    return text.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textsep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the REST service (host, port and model from TEXTSEP_* settings)")
    separate = commands.add_parser("separate", help="separate files, folders or globs in-process")
    separate.add_argument("inputs", nargs="+", metavar="PATH", help="audio files (WAV, FLAC, OGG, MP3), folders, globs")
    separate.add_argument(
        "--query",
        action="append",
        required=True,
        type=query_text,
        help="the sound to extract, e.g. 'a dog barking'; repeatable (trimmed, as the service trims it)",
    )
    separate.add_argument(
        "--mode", choices=get_args(Mode), default="extract", help="extract the sounds, remove them, or both"
    )
    separate.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="a folder (one subfolder of stems per input), or for one input and one stem an audio file name",
    )
    separate.add_argument("--force", action="store_true", help="redo files whose stems already exist")
    args = parser.parse_args(argv)

    try:  # a setting to fix is not a bug: say what and how, no traceback
        settings = Settings()
        check_model_files(settings)
    except ValidationError as error:
        print(f"textsep: {describe_validation_error(error)}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(f"textsep: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format)
    if args.command == "serve":
        return serve(settings)
    return separate_files(settings, args.inputs, args.query, args.mode, args.output, args.force)


if __name__ == "__main__":
    sys.exit(main())

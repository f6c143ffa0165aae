"""`textsep serve` runs the REST service; `textsep separate IN --query ... -o OUT` runs the same model
in-process on one file. Both read the same `TEXTSEP_*` settings."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import soundfile as sf
import uvicorn
from pydantic import ValidationError
from tqdm import tqdm

from model.text import MissingModelFile
from service.app import create_app
from service.runtime import Runtime, check_model_files, load_separator
from service.settings import Settings

STARTUP_FAILED = 3  # uvicorn's own exit code for a failed startup


class DrainingServer(uvicorn.Server):
    """Uvicorn already finishes in-flight requests on SIGTERM; this also turns /readyz and new
    /separate requests to 503 at that moment, so load balancers stop sending work at once."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime):
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig, frame) -> None:
        self.runtime.drain()
        super().handle_exit(sig, frame)


def serve(settings: Settings) -> int:
    app = create_app(settings)
    server = DrainingServer(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info"), app.state.runtime
    )
    # After its graceful shutdown uvicorn re-raises the signal it caught. By then every accepted
    # request has been answered, so that is a clean exit, not death by signal.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda signum, frame: sys.exit(0))
    server.run()
    return 0 if server.started else STARTUP_FAILED


def separate_file(settings: Settings, source: str, query: str, destination: str) -> int:
    check_model_files(settings)
    separator = load_separator(settings)
    samples, sample_rate = sf.read(source, dtype="float32", always_2d=True)
    with tqdm(unit="chunk", desc="separating") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        separated = separator.separate(samples.T, sample_rate, query, batch_size=settings.max_batch, progress=progress)
    sf.write(destination, separated.T, sample_rate)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textsep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the REST service (host, port and model from TEXTSEP_* settings)")
    separate = commands.add_parser("separate", help="separate one file in-process")
    separate.add_argument("input", help="audio file (WAV, FLAC, OGG, MP3)")
    separate.add_argument("--query", required=True, help="the sound to extract, e.g. 'a dog barking'")
    separate.add_argument("-o", "--output", required=True, help="output file; its extension picks the format")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        if args.command == "serve":
            return serve(settings)
        return separate_file(settings, args.input, args.query, args.output)
    except (ValidationError, MissingModelFile) as error:  # a setting to fix, not a bug: no traceback
        print(f"textsep: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

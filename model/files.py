"""Files the model reads: a missing one is a `MissingModelFile` that names what it is and where it
was looked for. Which setting pointed there is the caller's business (the service's settings layer
maps paths to their `TEXTSEP_*` names); the model only knows paths."""

from __future__ import annotations

from pathlib import Path


class MissingModelFile(FileNotFoundError):
    """A file the model needs is not at the path it was given; the message names both."""

    def __init__(self, path: Path | str, what: str):
        self.path, self.what = Path(path), what
        super().__init__(f"{what} not found at {path}")


def require_file(path: Path | str, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingModelFile(path, what)
    return path

"""Running the command-line synthesisers the corpus is rendered with."""

from __future__ import annotations

import shutil
import subprocess

# Executable -> Debian package that provides it (the Makefile installs them).
REQUIRED_TOOLS = {
    "espeak-ng": "espeak-ng",
    "flite": "flite",
    "text2wave": "festival",
    "fluidsynth": "fluidsynth",
}


class MissingToolError(RuntimeError):
    pass


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = REQUIRED_TOOLS.get(name, name)
        raise MissingToolError(f"{name!r} not found on PATH; install it with: apt-get install {package}")
    return path


def run_tool(args: list[str], input_text: str | None = None, timeout: float = 120) -> None:
    """Run a synthesiser, turning a failure into an error that shows its command and stderr."""
    require_tool(args[0])
    result = subprocess.run(args, input=input_text, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

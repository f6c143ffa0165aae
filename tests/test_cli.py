"""`python -m service separate`: the same model in-process on one file."""

import subprocess
import sys
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def test_separate_writes_the_same_length_rate_and_channels(tmp_path, audio_file):
    source, output = tmp_path / "in.wav", tmp_path / "out.wav"
    source.write_bytes(audio_file(2.3, 22050, 2))
    done = subprocess.run(
        [sys.executable, "-m", "service", "separate", str(source), "--query", "a humming tone", "-o", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    original, separated = sf.info(source), sf.info(output)
    assert (separated.frames, separated.samplerate, separated.channels) == (
        original.frames,
        original.samplerate,
        original.channels,
    )
    assert "chunk" in done.stderr  # the progress bar

"""`python -m service separate`: the same model and batcher in-process, on one file or many."""

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import soundfile as sf
from live import TEST_DEFAULTS

REPO = Path(__file__).resolve().parents[1]


COMMAND = [sys.executable, "-m", "service", "separate"]
ENV = {**os.environ, **TEST_DEFAULTS, "TEXTSEP_MAX_BATCH": "2"}  # small: warm-up runs every batch size up to it


def textsep(*args: str) -> subprocess.CompletedProcess:
    command = [*COMMAND, *args]
    return subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, check=False)


def textsep_on_a_terminal(*args: str) -> tuple[int, str]:
    """Exit code and what the CLI wrote with its stderr on a pseudo-terminal (as a person sees it)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    with subprocess.Popen([*COMMAND, *args], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=terminal) as cli:
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the CLI has exited and the terminal is closed
            while piece := os.read(controller, 65536):
                shown += piece
        os.close(controller)
        return cli.wait(timeout=300), shown.decode(errors="replace")


def test_separate_writes_the_same_length_rate_and_channels_with_a_progress_bar_on_a_terminal(tmp_path, audio_file):
    source, output = tmp_path / "in.wav", tmp_path / "out.wav"
    source.write_bytes(audio_file(2.3, 22050, 2))
    returncode, shown = textsep_on_a_terminal(str(source), "--query", "a humming tone", "-o", str(output))
    assert returncode == 0, shown
    original, separated = sf.info(source), sf.info(output)
    assert (separated.frames, separated.samplerate, separated.channels) == (
        original.frames,
        original.samplerate,
        original.channels,
    )
    assert "separating: 100%" in shown  # the progress bar


def test_a_folder_of_good_and_broken_files(tmp_path, audio_file):
    inputs, output = tmp_path / "in", tmp_path / "out"
    (inputs / "more").mkdir(parents=True)
    (inputs / "a.wav").write_bytes(audio_file(1.5, 22050, 2, seed=1))
    (inputs / "more" / "b.flac").write_bytes(audio_file(2, 16000, 1, format="FLAC", seed=2))
    (inputs / "broken.wav").write_bytes(b"RIFF, but not really a wave file" * 10)
    (inputs / "notes.txt").write_text("not audio, not listed")
    done = textsep(str(inputs), "--query", "a humming tone", "--query", "noise", "--mode", "both", "-o", str(output))

    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "broken.wav" in failed[0] and "2 of 3 file(s) separated" in done.stderr
    assert "separating" not in done.stderr and "\r" not in done.stderr  # no progress bar into a pipe or a log
    for name, upload in [("a", inputs / "a.wav"), ("more/b", inputs / "more" / "b.flac")]:
        stems = {path.name: sf.read(path, always_2d=True)[0] for path in (output / name).iterdir()}
        assert set(stems) == {"a-humming-tone.wav", "noise.wav", "residual.wav"}
        mixture = sf.read(upload, always_2d=True)[0]
        assert np.abs(sum(stems.values()) - mixture).max() < 4 / 2**15  # the residual closes the sum, to PCM rounding

    again = textsep(str(inputs / "a.wav"), str(inputs / "**" / "*.flac"), "--query", "a humming tone",
                    "--query", "noise", "--mode", "both", "-o", str(output))  # fmt: skip
    assert again.returncode == 0 and "skipping 2 file(s) already separated" in again.stderr, again.stderr


def test_a_configuration_mistake_is_explained_without_a_traceback(tmp_path):
    """`TEXTSEP_MODEL=audiosep` with one path wrong and two unset: every file named, exit 2."""
    env = {**os.environ, "TEXTSEP_MODEL": "audiosep", "TEXTSEP_AUDIOSEP_CHECKPOINT": str(tmp_path / "ss.ckpt")}
    env.pop("TEXTSEP_CLAP_CHECKPOINT", None), env.pop("TEXTSEP_CLAP_TOKENIZER_DIR", None)
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    for expected in ["ss.ckpt: not found", "TEXTSEP_CLAP_CHECKPOINT is not set", "TEXTSEP_CLAP_TOKENIZER_DIR is not set",
                     "audiosep_base_4M_steps.ckpt", "music_speech_audioset_epoch_15_esc_89.98.pt"]:  # fmt: skip
        assert expected in done.stderr, done.stderr

    bad = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "TEXTSEP_MAX_BATCH": "lots"}, timeout=120, check=False)  # fmt: skip
    assert bad.returncode == 2 and "TEXTSEP_MAX_BATCH" in bad.stderr and "'lots'" in bad.stderr
    assert "Traceback" not in bad.stderr and "errors.pydantic.dev" not in bad.stderr

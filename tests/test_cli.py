"""`python -m service separate`: the same model and batcher in-process, on one file or many."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def textsep(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "service", "separate", *args]
    env = {**os.environ, "TEXTSEP_MAX_BATCH": "2"}  # small: warm-up runs every batch size up to it
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_separate_writes_the_same_length_rate_and_channels(tmp_path, audio_file):
    source, output = tmp_path / "in.wav", tmp_path / "out.wav"
    source.write_bytes(audio_file(2.3, 22050, 2))
    done = textsep(str(source), "--query", "a humming tone", "-o", str(output))
    assert done.returncode == 0, done.stderr
    original, separated = sf.info(source), sf.info(output)
    assert (separated.frames, separated.samplerate, separated.channels) == (
        original.frames,
        original.samplerate,
        original.channels,
    )
    assert "separating" in done.stderr  # the progress bar


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

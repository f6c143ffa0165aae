"""Recorded sounds from Debian packages, for the independent evaluation split.

Human speech comes from the Asterisk telephone prompts (one recorded speaker), telephone rings
and an alarm clock from the freedesktop sound theme. Classes without a recorded source are
simply absent from this split (instruments come from the FluidR3 soundfont instead).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import fade, read_mono

FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
ASTERISK_PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
RECORDED_FILES = {
    "telephone ringing": (FREEDESKTOP / "phone-incoming-call.oga", FREEDESKTOP / "phone-outgoing-calling.oga"),
    "alarm beeping": (FREEDESKTOP / "alarm-clock-elapsed.oga",),
}
PACKAGES = {FREEDESKTOP: "sound-theme-freedesktop", ASTERISK_PROMPTS: "asterisk-core-sounds-en-wav"}
# Prompt files (or folders) that hold tones, silence or animal noises rather than speech.
NOT_SPEECH = ("silence", "tone", "beep", "ding", "dong", "jingle", "monkeys")
MIN_PROMPT_SECONDS = 1.0


def _require(directory: Path) -> None:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is missing; install it with: apt-get install {PACKAGES[directory]}")


def speech_prompts() -> list[Path]:
    _require(ASTERISK_PROMPTS)
    return sorted(
        path for path in ASTERISK_PROMPTS.rglob("*.wav")
        if not any(word in str(path.relative_to(ASTERISK_PROMPTS)) for word in NOT_SPEECH)
    )


def recorded_capacity(label: str) -> int:
    """How many distinct clips of ``label`` the recordings can give (0: no recorded source)."""
    if label == "speech":
        return 10_000  # random sequences of prompts: practically unlimited
    return len(RECORDED_FILES.get(label, ()))


def recorded_clip(label: str, clip_index: int, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    duration = int(rng.uniform(3.0, 8.0) * sample_rate)
    if label == "speech":
        return _prompt_sequence(rng, duration, sample_rate)
    path = RECORDED_FILES[label][clip_index]
    _require(path.parent)
    recording = read_mono(path, sample_rate)
    # Short recordings (one ring) repeat with a pause, the way a phone keeps ringing.
    pause = np.zeros(int(rng.uniform(0.3, 1.5) * sample_rate), np.float32)
    repeats = -(-duration // (len(recording) + len(pause)))
    audio = np.concatenate([np.concatenate([recording, pause])] * max(1, repeats))[: max(duration, len(recording))]
    return fade(audio, sample_rate // 200), {"file": path.name}


def _prompt_sequence(rng: np.random.Generator, duration: int, sample_rate: int) -> tuple[np.ndarray, dict]:
    """Random telephone prompts read one after another with short pauses."""
    prompts = speech_prompts()
    pieces, used, length = [], [], 0
    while length < duration:
        path = prompts[int(rng.integers(len(prompts)))]
        audio = read_mono(path, sample_rate)
        if len(audio) < MIN_PROMPT_SECONDS * sample_rate:
            continue
        pause = np.zeros(int(rng.uniform(0.1, 0.6) * sample_rate), np.float32)
        pieces += [audio, pause]
        used.append(path.stem)
        length += len(audio) + len(pause)
    return fade(np.concatenate(pieces)[:duration], sample_rate // 200), {"prompts": used}

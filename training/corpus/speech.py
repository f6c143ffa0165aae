"""Speech clips from three text-to-speech engines with many voices, rates and pitches.

Voices are divided between splits, so the test split is spoken by voices never heard in training
(festival ships only two voices here; they appear in every split, with different sentences).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import soxr

from .audio import fade, read_mono, trim_silence
from .sentences import random_text
from .tools import run_tool

ESPEAK_ACCENTS = {
    "train": ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbcwmd"),
    "valid": ("en-029",),
    "test": ("en-gb-x-gbclan", "en-us-nyc"),
}
# espeak-ng voice variants (male, female and character voices); the robotic ones are left out.
ESPEAK_VARIANTS = {
    "train": (
        "m1", "m2", "m4", "m6", "m8", "f1", "f2", "f4", "croak", "whisper", "klatt2", "Alicia",
        "Andy", "Annie", "aunty", "belinda", "benjamin", "caleb", "david", "ed", "edward",
        "grandma", "iven", "john", "linda", "max", "michel", "norbert", "paul", "quincy", "rob",
        "shelby", "steph", "travis", "victor", "zac",
    ),
    "valid": ("m7", "f5", "klatt4", "Lee", "adam", "anika", "boris"),
    "test": ("m3", "m5", "f3", "whisperf", "klatt3", "Alex", "Gene", "Mike", "grandpa", "steph2", "robert"),
}
FLITE_VOICES = {"train": ("awb", "rms", "kal16"), "valid": ("kal",), "test": ("slt",)}
FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")

ENGINE_WEIGHTS = {"espeak": 0.5, "flite": 0.25, "festival": 0.25}
WORDS_PER_SECOND = 2.5
WORDS_PER_SENTENCE = 9


def voices_for(split: str) -> str:
    """Splits other than valid and test (train, independent) use the training voices."""
    return split if split in ("valid", "test") else "train"


def render_espeak(text: str, rng: np.random.Generator, split: str, directory: Path) -> tuple[Path, dict]:
    voice = f"{_choice(rng, ESPEAK_ACCENTS[voices_for(split)])}+{_choice(rng, ESPEAK_VARIANTS[voices_for(split)])}"
    settings = {
        "voice": voice,
        "words_per_minute": int(rng.integers(120, 210)),
        "pitch": int(rng.integers(20, 80)),
        "word_gap": int(rng.integers(0, 4)),
    }
    path = directory / "espeak.wav"
    run_tool([
        "espeak-ng", "-v", voice, "-s", str(settings["words_per_minute"]), "-p", str(settings["pitch"]),
        "-g", str(settings["word_gap"]), "-w", str(path), text,
    ])
    return path, settings


def render_flite(text: str, rng: np.random.Generator, split: str, directory: Path) -> tuple[Path, dict]:
    settings = {
        "voice": _choice(rng, FLITE_VOICES[voices_for(split)]),
        "duration_stretch": round(float(rng.uniform(0.8, 1.3)), 2),
    }
    path = directory / "flite.wav"
    run_tool([
        "flite", "-voice", settings["voice"], "--setf", f"duration_stretch={settings['duration_stretch']}",
        "-t", text, "-o", str(path),
    ])
    return path, settings


def render_festival(text: str, rng: np.random.Generator, split: str, directory: Path) -> tuple[Path, dict]:
    settings = {
        "voice": _choice(rng, FESTIVAL_VOICES),
        "duration_stretch": round(float(rng.uniform(0.8, 1.3)), 2),
    }
    text_path, path = directory / "text.txt", directory / "festival.wav"
    text_path.write_text(text)
    run_tool([
        "text2wave", "-eval", f"(voice_{settings['voice']})",
        "-eval", f"(Parameter.set 'Duration_Stretch {settings['duration_stretch']})",
        "-o", str(path), str(text_path),
    ])
    return path, settings


ENGINES = {"espeak": render_espeak, "flite": render_flite, "festival": render_festival}


def speech_clip(rng: np.random.Generator, split: str, sample_rate: int) -> tuple[np.ndarray, dict]:
    """A 3-8 s clip of one synthetic speaker reading random sentences."""
    duration = float(rng.uniform(3.0, 8.0))
    engine = str(rng.choice(list(ENGINE_WEIGHTS), p=list(ENGINE_WEIGHTS.values())))
    # Resampling changes pitch and tempo together, like a different vocal tract: more speakers.
    speed = float(rng.uniform(0.88, 1.12))
    # One sentence more than the duration needs, so the crop below nearly always has enough.
    sentences = 1 + math.ceil(duration * WORDS_PER_SECOND / WORDS_PER_SENTENCE)
    with tempfile.TemporaryDirectory(prefix="speech-") as directory:
        path, settings = ENGINES[engine](random_text(rng, sentences), rng, split, Path(directory))
        audio = trim_silence(read_mono(path, sample_rate))
    audio = soxr.resample(audio, sample_rate, sample_rate / speed).astype(np.float32)
    audio = fade(audio[: int(duration * sample_rate)], sample_rate // 100)
    return audio, {"engine": engine, "speed": round(speed, 3), **settings}


def _choice(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]

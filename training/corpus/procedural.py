"""Signalling sounds synthesised with numpy: telephone rings, alarm beeps, sirens and bells.

Each generator draws every parameter (pitches, cadences, timbres, sweep rates) at random, so
no two clips share a fixed recipe.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .audio import fade


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _duration_samples(rng: np.random.Generator, sample_rate: int) -> int:
    return int(rng.uniform(3.0, 8.0) * sample_rate)


def gate(length: int, on_off: list[tuple[float, float]], sample_rate: int, ramp: float = 0.004) -> np.ndarray:
    """A 0/1 envelope repeating the (on seconds, off seconds) cadence, with short ramps against clicks."""
    envelope = np.zeros(length, dtype=np.float32)
    position, step = 0, 0
    while position < length:
        on, off = on_off[step % len(on_off)]
        envelope[position : position + int(on * sample_rate)] = 1.0
        position += int((on + off) * sample_rate)
        step += 1
    window = max(1, int(ramp * sample_rate))
    return np.convolve(envelope, np.ones(window) / window, mode="same").astype(np.float32)


def tone(frequency: np.ndarray | float, length: int, sample_rate: int, harmonics: np.ndarray) -> np.ndarray:
    """A periodic tone (constant or swept frequency) with the given harmonic amplitudes."""
    frequency = np.broadcast_to(np.asarray(frequency, dtype=np.float64), (length,))
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    out = np.zeros(length)
    for number, amplitude in enumerate(harmonics, start=1):
        audible = frequency * number < 0.45 * sample_rate  # no aliasing above Nyquist
        out += amplitude * np.sin(number * phase) * audible
    return out


def random_harmonics(rng: np.random.Generator, kind: str | None = None) -> tuple[np.ndarray, str]:
    """Harmonic amplitudes of a sine, square-like, triangle-like or buzzy waveform."""
    kind = kind or _choice(rng, ("sine", "square", "triangle", "buzzy"))
    numbers = np.arange(1, 16)
    amplitudes = {
        "sine": (numbers == 1).astype(float),
        "square": np.where(numbers % 2 == 1, 1 / numbers, 0.0),
        "triangle": np.where(numbers % 2 == 1, 1 / numbers**2, 0.0),
        "buzzy": 1 / numbers ** rng.uniform(0.7, 1.5),
    }[kind]
    return amplitudes, kind


# --- telephone ringing ---


RING_CADENCES = {
    "north american": [(2.0, 4.0)],
    "british": [(0.4, 0.2), (0.4, 2.0)],
    "european": [(1.0, 4.0)],
    "short double": [(0.25, 0.25), (0.25, 1.5)],
    "long": [(1.5, 3.0)],
}


def telephone_ringing(rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    length = _duration_samples(rng, sample_rate)
    cadence_name = _choice(rng, list(RING_CADENCES))
    scale = float(rng.uniform(0.7, 1.3))
    cadence = [(on * scale, off * scale * rng.uniform(0.4, 1.0)) for on, off in RING_CADENCES[cadence_name]]
    # Start up to half a second before the first ring or part-way into it.
    start = float(rng.uniform(-0.5, 0.8 * cadence[0][0]))
    envelope = gate(length + int(abs(start) * sample_rate), cadence, sample_rate)
    if start < 0:
        envelope = np.concatenate([np.zeros(int(-start * sample_rate), np.float32), envelope])
    else:
        envelope = envelope[int(start * sample_rate) :]
    envelope = envelope[:length]
    kind = _choice(rng, ("dual tone", "warble", "bell"))
    if kind == "dual tone":
        audio = _dual_tone_ring(rng, length, sample_rate)
    elif kind == "warble":
        audio = _warble_ring(rng, length, sample_rate)
    else:
        audio = _electromechanical_bell(rng, length, sample_rate)
    return audio * envelope, {"kind": kind, "cadence": cadence_name}


def _dual_tone_ring(rng, length: int, sample_rate: int) -> np.ndarray:
    """Two close tones beating against each other (e.g. 440 + 480 Hz), with a few harmonics."""
    low = float(rng.uniform(330, 900))
    high = low * float(rng.uniform(1.05, 1.35))
    harmonics, _ = random_harmonics(rng)
    return tone(low, length, sample_rate, harmonics) + tone(high, length, sample_rate, harmonics)


def _warble_ring(rng, length: int, sample_rate: int) -> np.ndarray:
    """An electronic ringer trilling between two pitches 10-25 times a second."""
    low = float(rng.uniform(500, 1500))
    high = low * float(rng.uniform(1.15, 1.6))
    trill = float(rng.uniform(10, 25))
    time = np.arange(length) / sample_rate
    switch = signal.square(2 * np.pi * trill * time) > 0
    frequency = np.where(switch, high, low)
    harmonics, _ = random_harmonics(rng)
    return tone(frequency, length, sample_rate, harmonics)


def _electromechanical_bell(rng, length: int, sample_rate: int) -> np.ndarray:
    """An old telephone: a clapper striking one or two small bells 15-25 times a second."""
    strike_rate = float(rng.uniform(15, 25))
    strikes = np.zeros(length)
    period = sample_rate / strike_rate
    strikes[(np.arange(0, length, period) + rng.uniform(0, 0.1 * period)).astype(int).clip(0, length - 1)] = 1.0
    fundamental = float(rng.uniform(600, 1400))
    partials = fundamental * np.array([1.0, 2.76, 5.40, 8.93]) * rng.uniform(0.97, 1.03, size=4)
    ring = _modal_impulse_response(rng, partials, decays=rng.uniform(0.08, 0.4, size=4), sample_rate=sample_rate)
    second = rng.random() < 0.5  # two bells of different pitch struck alternately
    audio = signal.fftconvolve(strikes, ring)[:length]
    if second:
        alternate = np.roll(strikes, int(period / 2))
        other_partials, other_decays = partials * rng.uniform(1.1, 1.3), rng.uniform(0.08, 0.4, size=4)
        other = _modal_impulse_response(rng, other_partials, other_decays, sample_rate)
        audio += signal.fftconvolve(alternate, other)[:length]
    return audio


def _modal_impulse_response(rng, partials: np.ndarray, decays: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sum of exponentially decaying sinusoids (the modes of a struck metal object)."""
    length = int(min(3.0, 1.5 * float(np.max(decays))) * sample_rate) + 1
    time = np.arange(length) / sample_rate
    amplitudes = rng.uniform(0.2, 1.0, size=len(partials))
    phases = rng.uniform(0, 2 * np.pi, size=len(partials))
    response = np.zeros(length)
    for frequency, decay, amplitude, phase in zip(partials, decays, amplitudes, phases):
        if frequency < 0.45 * sample_rate:
            response += amplitude * np.exp(-time / decay) * np.sin(2 * np.pi * frequency * time + phase)
    return response


# --- alarm beeping ---


def alarm_beeping(rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    length = _duration_samples(rng, sample_rate)
    pattern_name = _choice(rng, ("steady", "groups", "fast", "alternating"))
    beep = float(rng.uniform(0.04, 0.35))
    if pattern_name == "steady":
        cadence = [(beep, float(rng.uniform(0.05, 0.8)))]
    elif pattern_name == "fast":
        cadence = [(beep / 3, beep / 3 * float(rng.uniform(0.6, 1.5)))]
    else:  # groups of beeps then a pause, like a smoke alarm or an alarm clock
        count = int(rng.integers(2, 5))
        gap = float(rng.uniform(0.05, 0.2))
        cadence = [(beep, gap)] * (count - 1) + [(beep, float(rng.uniform(0.4, 1.5)))]
    envelope = gate(length, cadence, sample_rate, ramp=float(rng.uniform(0.001, 0.01)))
    harmonics, waveform = random_harmonics(rng)
    frequency = float(np.exp(rng.uniform(np.log(500), np.log(4000))))
    if pattern_name == "alternating":  # two pitches taking turns from beep to beep
        period = sum(on + off for on, off in cadence)
        time = np.arange(length) / sample_rate
        other = frequency * float(rng.uniform(0.6, 0.9))
        frequency = np.where((time // period) % 2 == 0, frequency, other)
    audio = tone(frequency, length, sample_rate, harmonics) * envelope
    start = int(rng.uniform(0, 0.5) * sample_rate)  # the alarm does not always start with the clip
    audio = np.concatenate([np.zeros(start), audio])[:length]
    return audio, {"pattern": pattern_name, "waveform": waveform, "beep_seconds": round(beep, 3)}


# --- siren ---


SWEEP_PERIODS = {"wail": (2.0, 6.0), "yelp": (0.15, 0.5), "mechanical": (3.0, 8.0)}  # seconds per up-and-down


def siren(rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    length = _duration_samples(rng, sample_rate)
    time = np.arange(length) / sample_rate
    kind = _choice(rng, ("wail", "yelp", "hi-lo", "mechanical"))
    low = float(rng.uniform(400, 900))
    high = low * float(rng.uniform(1.4, 2.4))
    if kind == "hi-lo":  # two-tone European siren
        high = low * float(rng.uniform(1.2, 1.45))
        half_period = float(rng.uniform(0.3, 0.8))
        frequency = np.where((time // half_period) % 2 == 0, high, low)
        glide = int(0.01 * sample_rate)  # the pitch moves between the two tones in about 10 ms
        frequency = np.convolve(frequency, np.ones(glide) / glide, mode="same")
    else:
        phase = 2 * np.pi * (time / float(rng.uniform(*SWEEP_PERIODS[kind])) + rng.uniform(0, 1))
        # A yelp rises and drops back at once (sawtooth); a wail rises and falls smoothly.
        sweep = (signal.sawtooth(phase) + 1) / 2 if kind == "yelp" else 0.5 - 0.5 * np.cos(phase)
        frequency = low + (high - low) * sweep
    harmonics, waveform = random_harmonics(rng, "sine" if kind == "mechanical" else None)
    audio = tone(frequency, length, sample_rate, harmonics)
    if kind == "mechanical":  # rotor siren: a little roughness and noise
        audio += 0.1 * rng.standard_normal(length) * np.abs(audio)
    if rng.random() < 0.5:  # a vehicle passing by: the level rises and falls
        centre = rng.uniform(0.2, 0.8)
        passing = 1 / (1 + ((time / time[-1] - centre) * rng.uniform(2, 6)) ** 2)
        audio *= passing
    return audio, {"kind": kind, "waveform": waveform, "low_hz": round(low), "high_hz": round(high)}


# --- bell ringing ---


# Partial frequency ratios of tuned church bells (hum, prime, tierce, quint, nominal and upper partials)
# and of hand bells, which are tuned closer to harmonic.
CHURCH_BELL_PARTIALS = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.5, 2.66, 3.01, 4.1])
HAND_BELL_PARTIALS = np.array([1.0, 2.0, 3.0, 4.2, 5.4, 6.8])
SMALL_BELL_PARTIALS = np.array([1.0, 2.32, 4.25, 6.63, 9.38])


def bell_ringing(rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    length = _duration_samples(rng, sample_rate)
    kind = _choice(rng, ("church tolling", "church peal", "hand bell", "small bell"))
    if kind.startswith("church"):
        ratios, fundamentals, decay_scale = CHURCH_BELL_PARTIALS, rng.uniform(150, 600), rng.uniform(1.5, 5.0)
    elif kind == "hand bell":
        ratios, fundamentals, decay_scale = HAND_BELL_PARTIALS, rng.uniform(400, 1500), rng.uniform(0.8, 2.5)
    else:
        ratios, fundamentals, decay_scale = SMALL_BELL_PARTIALS, rng.uniform(1500, 4000), rng.uniform(0.3, 1.2)
    bells = _bell_set(rng, kind, float(fundamentals))
    interval = float(rng.uniform(1.2, 3.0) if kind == "church tolling" else rng.uniform(0.15, 0.7))
    audio = np.zeros(length)
    strike_time = float(rng.uniform(0, 0.3))
    index = 0
    while strike_time < length / sample_rate:
        fundamental = bells[index % len(bells)] if kind == "church peal" else bells[int(rng.integers(len(bells)))]
        strike = _struck_bell(rng, fundamental * ratios, decay_scale, sample_rate)
        start = int(strike_time * sample_rate)
        end = min(length, start + len(strike))
        audio[start:end] += strike[: end - start] * rng.uniform(0.6, 1.0)
        strike_time += interval * rng.uniform(0.9, 1.1)
        index += 1
    return audio, {"kind": kind, "bells": [round(b) for b in bells], "interval": round(interval, 2)}


def _bell_set(rng, kind: str, fundamental: float) -> list[float]:
    """One bell, or a descending ring of bells on a major scale for a peal."""
    if kind == "church peal":
        steps = (0, -2, -4, -5, -7, -9, -11, -12)[: int(rng.integers(3, 9))]
        return [fundamental * 2 ** (s / 12) for s in steps]
    return [fundamental * 2 ** (s / 12) for s in rng.choice((0, 2, 4, 5, 7), size=int(rng.integers(1, 3)))]


def _struck_bell(rng, partials: np.ndarray, decay_scale: float, sample_rate: int) -> np.ndarray:
    """A bell's strike: inharmonic partials, low ones ringing longest, each split in a slow beating pair."""
    decays = decay_scale / np.sqrt(partials / partials[0])
    detuned = partials * rng.uniform(0.995, 1.005, size=len(partials))
    beating = detuned * (1 + rng.uniform(0.0005, 0.003, size=len(partials)))
    modes, mode_decays = np.concatenate([detuned, beating]), np.concatenate([decays, decays])
    response = _modal_impulse_response(rng, modes, mode_decays, sample_rate)
    attack = int(0.002 * sample_rate)
    response[:attack] *= np.linspace(0, 1, attack)
    return response


PROCEDURAL_SOURCES = {
    "telephone ringing": telephone_ringing,
    "alarm beeping": alarm_beeping,
    "siren": siren,
    "bell ringing": bell_ringing,
}


def procedural_clip(label: str, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    audio, details = PROCEDURAL_SOURCES[label](rng, sample_rate)
    return fade(audio.astype(np.float32), sample_rate // 200), details

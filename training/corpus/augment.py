"""Random room, microphone and noise colouring applied to every rendered clip.

Synthesisers are clean and identical from clip to clip; the model should learn the sound class,
not the synthesiser, so each clip gets its own random room, frequency response and noise floor.
This happens once at render time: convolution is too slow for the mixing loop of training.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

REVERB_PROBABILITY = 0.5
EQUALISER_PROBABILITY = 0.6
NOISE_PROBABILITY = 0.3


def augment(audio: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    """Apply a random subset of reverb, equalisation and noise; return the audio and what was done."""
    applied: dict = {}
    if rng.random() < EQUALISER_PROBABILITY:
        audio, applied["equaliser"] = random_equaliser(audio, rng, sample_rate)
    if rng.random() < REVERB_PROBABILITY:
        audio, applied["reverb"] = random_reverb(audio, rng, sample_rate)
    if rng.random() < NOISE_PROBABILITY:
        audio, applied["noise"] = add_noise(audio, rng)
    return audio.astype(np.float32), applied


def room_impulse_response(
    rng: np.random.Generator, sample_rate: int, rt60: float, direct_to_reverb_db: float
) -> np.ndarray:
    """Exponentially decaying noise whose high band dies faster than its low band, like a room."""
    length = int(rt60 * sample_rate)
    time = np.arange(length) / sample_rate
    noise = rng.standard_normal(length)
    low = signal.sosfilt(signal.butter(2, 2000, "lowpass", fs=sample_rate, output="sos"), noise)
    high = noise - low
    high_rt60 = rt60 * rng.uniform(0.3, 0.7)
    tail = low * np.exp(-6.9 * time / rt60) + high * np.exp(-6.9 * time / high_rt60)
    predelay = int(rng.uniform(0.002, 0.02) * sample_rate)
    tail = np.concatenate([np.zeros(predelay), tail])[:length]
    tail /= np.sqrt(np.sum(tail**2)) + 1e-9
    response = tail * 10 ** (-direct_to_reverb_db / 20)
    response[0] += 1.0
    return response


def random_reverb(audio: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    rt60 = float(rng.uniform(0.15, 1.5))
    direct_to_reverb_db = float(rng.uniform(-3.0, 15.0))
    response = room_impulse_response(rng, sample_rate, rt60, direct_to_reverb_db)
    wet = signal.fftconvolve(audio, response)[: len(audio)]
    return wet, {"rt60": round(rt60, 3), "direct_to_reverb_db": round(direct_to_reverb_db, 1)}


def peaking_filter(centre_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One peaking-EQ biquad (Audio EQ Cookbook) as second-order sections."""
    amplitude = 10 ** (gain_db / 40)
    omega = 2 * np.pi * centre_hz / sample_rate
    alpha = np.sin(omega) / (2 * q)
    b = [1 + alpha * amplitude, -2 * np.cos(omega), 1 - alpha * amplitude]
    a = [1 + alpha / amplitude, -2 * np.cos(omega), 1 - alpha / amplitude]
    return np.array([b + a]) / a[0]


def random_equaliser(audio: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, dict]:
    """Band limits of a cheap microphone or speaker plus a few random resonances."""
    nyquist = sample_rate / 2
    low_cut = float(rng.uniform(40, 400))
    high_cut = float(min(rng.uniform(2500, 8000), 0.95 * nyquist))
    sections = [
        signal.butter(2, low_cut, "highpass", fs=sample_rate, output="sos"),
        signal.butter(4, high_cut, "lowpass", fs=sample_rate, output="sos"),
    ]
    peaks = []
    for _ in range(int(rng.integers(0, 4))):
        centre = float(np.exp(rng.uniform(np.log(100), np.log(0.8 * high_cut))))
        gain_db = float(rng.uniform(-9, 9))
        sections.append(peaking_filter(centre, gain_db, float(rng.uniform(0.5, 4)), sample_rate))
        peaks.append((round(centre), round(gain_db, 1)))
    filtered = signal.sosfilt(np.concatenate(sections), audio)
    return filtered, {"low_cut": round(low_cut), "high_cut": round(high_cut), "peaks": peaks}


def coloured_noise(length: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f**exponent power spectrum (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    spectrum[0] = 0.0  # no DC offset
    frequencies = np.maximum(np.arange(len(spectrum)), 1)
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=length)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def add_noise(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    snr_db = float(rng.uniform(20, 45))
    exponent = float(rng.uniform(0, 2))
    signal_rms = np.sqrt(np.mean(audio**2)) + 1e-12
    noise = coloured_noise(len(audio), exponent, rng) * signal_rms * 10 ** (-snr_db / 20)
    return audio + noise, {"snr_db": round(snr_db, 1), "exponent": round(exponent, 2)}

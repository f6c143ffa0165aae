"""What the cross-fade costs and buys: model work per uploaded second against the error of chunking.

    python -m bench.overlap            # the table for overlaps of 0-1 s, on the bundled model

For each overlap (rounded to the network's grid, as the service rounds it): the chunk audio the
service runs per uploaded second of the bench's clip mix (overlap, and each clip's windows: full
ones and a last one only as long as needed, short clips at their own length on the grid), and the
error of the chunked answer against one forward pass over the whole signal, as error energy over
the one pass's energy in dB, on 30 s of the example speech-and-piano recording (its first channel,
repeated). The service's default overlap is the smallest here within -40 dB.
"""

from __future__ import annotations

import argparse

import numpy as np
import soundfile as sf
import torch

from bench.server import REPO
from bench.workload import clip_mix
from model.separator import Separator

EXAMPLE = REPO / "examples/speech-and-piano.wav"
OVERLAPS = (0.0, 0.256, 0.512, 0.768, 1.024)
GOAL_DB = -40.0


def example_signal(seconds: float, sample_rate: int) -> np.ndarray:
    """`seconds` of the example's first channel at `sample_rate`, the recording repeated."""
    from model.plan import resample

    samples, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    mono = resample(np.ascontiguousarray(samples[:, :1].T), rate, sample_rate)[0]
    length = round(seconds * sample_rate)
    return np.tile(mono, -(-length // len(mono)))[:length]


def model_work(separator: Separator, clip_seconds: list[float]) -> float:
    """Chunk audio the model runs per second of uploaded audio over clips of these lengths."""
    rate = separator.sample_rate
    return sum(separator.chunking.model_samples(round(s * rate)) for s in clip_seconds) / rate / sum(clip_seconds)


def error_db(separator: Separator, signal: np.ndarray, query: str) -> float:
    """Error energy of the chunked answer against one pass over the whole signal, in dB."""
    chunked = separator.separate(signal, separator.sample_rate, query)
    whole = separator.separate_chunks(torch.from_numpy(signal)[None], separator.embed([query]))[0].numpy()
    return float(10 * np.log10(np.sum((chunked - whole) ** 2) / np.sum(whole**2)))


def table(
    overlaps=OVERLAPS, windows=(None,), clips: int = 48, seconds: float = 30.0, queries=("a man speaking", "piano")
) -> list[dict]:
    """One row per window (None: the model's own) and overlap."""
    mix = [clip.seconds for clip in clip_mix(clips)]
    rows = []
    for window, overlap in ((window, overlap) for window in windows for overlap in overlaps):
        separator = Separator.from_pretrained("bundled", device="cpu", chunk_seconds=window, overlap_seconds=overlap)
        signal = example_signal(seconds, separator.sample_rate)
        errors = {query: error_db(separator, signal, query) for query in queries}
        rows.append(
            {
                "window_s": separator.chunking.window / separator.sample_rate,
                "overlap_s": separator.chunking.overlap / separator.sample_rate,
                "model_work": model_work(separator, mix),
                "error_db": max(errors.values()),  # the worse query
            }
        )
    return rows


def smallest_within_goal(rows: list[dict], goal_db: float = GOAL_DB) -> dict | None:
    return next((row for row in sorted(rows, key=lambda r: r["overlap_s"]) if row["error_db"] <= goal_db), None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--overlaps", type=float, nargs="+", default=list(OVERLAPS))
    parser.add_argument("--windows", type=float, nargs="+", default=[None], help="seconds; default: the model's own")
    args = parser.parse_args(argv)
    rows = table(args.overlaps, args.windows)
    print("| window (s) | overlap (s) | model s per uploaded s | chunked vs one pass (dB) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['window_s']:.3f} | {row['overlap_s']:.3f} | {row['model_work']:.3f} | {row['error_db']:.1f} |")
    chosen = smallest_within_goal(rows)
    print(f"smallest within {GOAL_DB:g} dB: {chosen['overlap_s'] if chosen else None}")


if __name__ == "__main__":
    main()

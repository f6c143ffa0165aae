"""The model's own limit: `Separator.separate_chunks` in a tight loop, per batch size.

    python -m bench.throughput --preset audiosep-base --batch-sizes 1 4
    python -m bench.throughput --preset bundled-small --batch-sizes 1 4 8 16 --chunk-seconds 4

Each batch item is one chunk of the separator's own window, the unit the service batches. Random
weights are fine for speed (the compute does not depend on the values). Prints seconds of chunk
audio separated per second of compute (median of `--repeats` timed batches after one warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import NamedTuple

import torch

from bench.machine import describe
from bench.procfs import cpu_seconds
from model.resunet import ResUNet
from model.separator import Separator


class RandomEmbedding:
    """A stand-in text encoder: speed does not depend on what the condition says."""

    name = "random"

    def __init__(self, dim: int):
        self.dim = dim

    def encode(self, texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.randn(len(texts), self.dim), dim=1)


def random_separator(preset: str, **options) -> Separator:
    model = ResUNet.from_preset(preset)
    return Separator(model, RandomEmbedding(model.config.condition_size), **options)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Speed(NamedTuple):
    audio_per_second: float  # chunk audio seconds separated per second (median batch)
    cpu_cores: float  # CPU time over wall time while timing: how much of the machine the loop used


def measure(separator: Separator, batch_size: int, repeats: int) -> Speed:
    """How fast `separate_chunks` runs at this batch size."""
    window = separator.chunking.window
    chunks = torch.randn(batch_size, window) * 0.1
    embeddings = separator.embed(["query"] * batch_size)
    separator.separate_chunks(chunks, embeddings)  # warm-up: allocator and kernel selection
    times = []
    cpu_start = cpu_seconds()
    for _ in range(repeats):
        start = time.perf_counter()
        separator.separate_chunks(chunks, embeddings)
        synchronize(separator.device)
        times.append(time.perf_counter() - start)
    cores = (cpu_seconds() - cpu_start) / sum(times)
    return Speed(batch_size * window / separator.sample_rate / statistics.median(times), cores)


def limit(separator: Separator, batch_sizes: list[int], repeats: int) -> dict[int, Speed]:
    return {batch_size: measure(separator, batch_size, repeats) for batch_size in batch_sizes}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="bundled-small")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--chunk-seconds", type=float, default=None, help="default: the separator's own window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)

    window = {"chunk_seconds": args.chunk_seconds} if args.chunk_seconds else {}
    separator = random_separator(args.preset, device=args.device, dtype=args.dtype, **window)
    chunk_seconds = separator.chunking.window / separator.sample_rate
    print(f"{args.preset} ({args.dtype}) on {describe(separator.device)}")
    print("| batch | chunk (s) | chunk audio s per compute s | CPU cores busy |")
    print("|---|---|---|---|")
    for batch_size in args.batch_sizes:
        speed = measure(separator, batch_size, args.repeats)
        print(
            f"| {batch_size} | {chunk_seconds:g} | {speed.audio_per_second:.2f} | {speed.cpu_cores:.2f} |", flush=True
        )


if __name__ == "__main__":
    main()

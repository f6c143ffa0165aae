"""The model's own limit: `Separator.separate_chunks` in a tight loop, per batch size.

    python -m bench.throughput --preset audiosep-base --batch-sizes 1 4 --seconds 10
    python -m bench.throughput --preset bundled-small --batch-sizes 1 4 8 16 --seconds 4

Random weights are fine for speed (the compute does not depend on the values). Prints seconds of
audio separated per second of compute (median of `--repeats` timed batches after one warm-up).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from model.resunet import ResUNet
from model.separator import Separator


class RandomEmbedding:
    """A stand-in text encoder: speed does not depend on what the condition says."""

    name = "random"

    def __init__(self, dim: int):
        self.dim = dim

    def encode(self, texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.randn(len(texts), self.dim), dim=1)


def measure(separator: Separator, batch_size: int, seconds: float, repeats: int) -> float:
    length = int(seconds * separator.sample_rate)
    chunks = torch.randn(batch_size, length) * 0.1
    embeddings = separator.embed(["query"] * batch_size)
    separator.separate_chunks(chunks, embeddings)  # warm-up: allocator and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        separator.separate_chunks(chunks, embeddings)
        if separator.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch_size * seconds / statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="bundled-small")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each chunk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)

    model = ResUNet.from_preset(args.preset)
    separator = Separator(model, RandomEmbedding(model.config.condition_size), device=args.device, dtype=args.dtype)
    print(
        f"{args.preset} on {separator.device} ({args.dtype}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    print("| batch | chunk (s) | audio s per compute s |")
    print("|---|---|---|")
    for batch_size in args.batch_sizes:
        rate = measure(separator, batch_size, args.seconds, args.repeats)
        print(f"| {batch_size} | {args.seconds:g} | {rate:.2f} |", flush=True)


if __name__ == "__main__":
    main()

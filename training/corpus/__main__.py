"""Command line: ``python -m training.corpus build --root DIR --split train --clips-per-class N``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .pool import SourcePool, build_pool
from .sources import SPLITS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="render a split of the corpus (resumes a partial build)")
    build.add_argument("--root", type=Path, required=True, help="corpus directory; the split goes in ROOT/SPLIT")
    build.add_argument("--split", choices=SPLITS, required=True)
    build.add_argument("--clips-per-class", type=int, required=True)
    build.add_argument("--sample-rate", type=int, default=16_000)
    build.add_argument("--seed", type=int, default=None, help="defaults to the split's own seed")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pool_dir = build_pool(args.root, args.split, args.clips_per_class, args.sample_rate, args.seed)
    pool = SourcePool.load(pool_dir)
    seconds = sum(len(clip) for clips in pool.clips for clip in clips) / pool.sample_rate
    elapsed = time.perf_counter() - started
    print(f"{pool_dir}: {len(pool)} clips, {seconds / 60:.1f} min of audio, built in {elapsed:.0f} s")


if __name__ == "__main__":
    main()

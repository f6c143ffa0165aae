"""Command line for the corpora.

Synthetic corpus::

    python -m training.corpus build --root DIR --split train --clips-per-class N

Real-recordings corpus (``make corpus-packages`` runs the first step)::

    python -m training.corpus fetch                  # apt-get download + dpkg-deb -x into .cache/debs
    python -m training.corpus scan                   # -> training/corpus/real_manifest.csv (committed)
    python -m training.corpus attribution            # -> model/weights/ATTRIBUTION.md (committed)
    python -m training.corpus build-real --root .cache/corpus-real --split train --clips-per-class 80
    python -m training.corpus pack --root .cache/corpus-real --out .cache/corpus-real.pool.zip
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from .packages import DEFAULT_ROOT, fetch
from .pool import SourcePool, build_pool
from .sources import SPLITS


def _summary(pool_dir) -> str:
    pool = SourcePool.load(pool_dir)
    seconds = sum(len(clip) for clips in pool.clips for clip in clips) / pool.sample_rate
    return f"{pool_dir}: {len(pool)} clips, {seconds / 60:.1f} min of audio"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="render a split of the synthetic corpus (resumes a partial build)")
    build.add_argument("--root", type=Path, required=True, help="corpus directory; the split goes in ROOT/SPLIT")
    build.add_argument("--split", choices=SPLITS, required=True)
    build.add_argument("--clips-per-class", type=int, required=True)
    build.add_argument("--sample-rate", type=int, default=16_000)
    build.add_argument("--seed", type=int, default=None, help="defaults to the split's own seed")

    fetch_command = commands.add_parser("fetch", help="download and unpack the Debian packages of the real corpus")
    fetch_command.add_argument("--debs", type=Path, default=DEFAULT_ROOT)

    scan = commands.add_parser("scan", help="classify the unpacked packages' files into real_manifest.csv")
    scan.add_argument("--debs", type=Path, default=DEFAULT_ROOT)

    attribution = commands.add_parser("attribution", help="write the attribution file shipped with the weights")
    attribution.add_argument("--debs", type=Path, default=DEFAULT_ROOT)

    build_real = commands.add_parser("build-real", help="render a split of the real-recordings corpus")
    build_real.add_argument("--root", type=Path, required=True)
    build_real.add_argument("--split", choices=("train", "valid", "test"), required=True)
    build_real.add_argument("--clips-per-class", type=int, required=True)
    build_real.add_argument("--speech-clips", type=int, default=None, help="speech clips (default: 3x clips-per-class)")
    build_real.add_argument("--debs", type=Path, default=DEFAULT_ROOT)
    build_real.add_argument("--sample-rate", type=int, default=16_000)

    pack = commands.add_parser("pack", help="pack rendered splits into one compressed file SourcePool.load reads")
    pack.add_argument("--root", type=Path, required=True)
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--splits", nargs="+", default=["train", "valid"])
    pack.add_argument("--codec", choices=("flac", "opus"), default="flac")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.command == "build":
        pool_dir = build_pool(args.root, args.split, args.clips_per_class, args.sample_rate, args.seed)
        print(f"{_summary(pool_dir)}, built in {time.perf_counter() - started:.0f} s")
    elif args.command == "fetch":
        versions = fetch(args.debs)
        print(f"{len(versions)} packages unpacked under {args.debs} in {time.perf_counter() - started:.0f} s")
    elif args.command == "scan":
        from .real_manifest import MANIFEST_PATH, write_manifest
        from .real_manifest import scan as scan_packages

        entries, skipped = scan_packages(args.debs)
        write_manifest(entries)
        for reason, count in sorted(skipped.items(), key=lambda item: -item[1]):
            print(f"  skipped {count:5d}: {reason}")
        per_class = Counter(e.label for e in entries)
        print(f"{MANIFEST_PATH}: {len(entries)} files in {len(per_class)} classes, "
              f"{sum(e.seconds for e in entries) / 60:.0f} min, scanned in {time.perf_counter() - started:.0f} s")
    elif args.command == "attribution":
        from .attribution import ATTRIBUTION_PATH, write_attribution

        write_attribution(args.debs)
        print(f"wrote {ATTRIBUTION_PATH}")
    elif args.command == "build-real":
        from .realpool import build_real_pool

        pool_dir = build_real_pool(args.root, args.split, args.clips_per_class, debs=args.debs,
                                   speech_clips=args.speech_clips, sample_rate=args.sample_rate)
        print(f"{_summary(pool_dir)}, built in {time.perf_counter() - started:.0f} s")
    elif args.command == "pack":
        from .packing import pack_pools

        path = pack_pools(args.root, args.out, tuple(args.splits), args.codec)
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, packed in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

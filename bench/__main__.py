"""Every speed benchmark, side by side in one run, then BENCHMARKS.md and its plots.

    python -m bench            # the full run: about 20 minutes on two CPU cores
    python -m bench --quick    # tiny settings: checks that every part runs, numbers mean nothing
    python -m bench --gpu      # the GPU measurements (bench/gpu.py); --gpu --dry-run checks them on a CPU
    python -m bench.report     # rewrite BENCHMARKS.md and the plots from the last run's results

In one run, on one machine: the model alone in-process (`separate_chunks` in a tight loop) and as the
service runs it (instance processes, every way to fill the cores, eager and compiled), the library
one file at a time as a user calls it (the baseline), the service under load (its defaults, and
compiled), chunking's cost and error, the query-embedding cache, memory, and a py-spy profile of the
loaded server and its instances. Machines are noisy: compare the ratios within a run, not absolute
numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from bench import baseline, embedding, load, memory, overlap, profile, report, throughput
from bench.analysis import clients
from bench.fakes import fake_clap_text_encoder
from bench.limit import InstanceLoop
from bench.machine import machine
from bench.server import BenchServer
from bench.workload import Clip, clip_mix, mix_seconds
from model.resunet import ResUNet
from model.separator import Separator


@dataclass(frozen=True)
class Level:
    concurrency: int
    warmup_s: float  # not counted: the queue and the batch sizes settle first
    window_s: float


@dataclass(frozen=True)
class Plan:
    limit_batch_sizes: tuple[int, ...]
    limit_repeats: int
    clips: int  # the seeded 1-30 s mix the baseline and the service replay
    levels: tuple[Level, ...]  # the service with its defaults
    compiled_levels: tuple[Level, ...]  # the same, TEXTSEP_COMPILE=true
    profile_level: Level | None
    cache_misses: int
    cache_hits: int
    memory_batch_sizes: tuple[int, ...]
    memory_chunked_seconds: tuple[float, ...]
    memory_whole_seconds: tuple[float, ...]
    upload_seconds: tuple[float, ...]  # through the server, for its memory (stereo 44.1 kHz)
    instance_batch_sizes: tuple[int, ...]  # the model alone as instances: batch sizes, rounds per figure
    instance_rounds: int
    overlap_windows: tuple[float | None, ...]  # chunking: windows (None: the model's own) x overlaps
    overlaps: tuple[float, ...]
    max_batch: int | str = "auto"  # the server's TEXTSEP_MAX_BATCH (auto: its default)
    # audiosep-base (random weights, fake CLAP text branch): the limit and a shorter baseline mix only
    base_batch_sizes: tuple[int, ...] = ()
    base_repeats: int = 1  # under 1 s of audio per second on a CPU: one timed batch after the warm-up
    base_clips: int = 0
    base_max_seconds: float = 6.0


FULL = Plan(
    limit_batch_sizes=(1, 2, 4, 8),
    limit_repeats=5,
    clips=48,
    levels=(Level(1, 5, 30), Level(4, 10, 30), Level(16, 30, 60), Level(64, 30, 30)),
    compiled_levels=(Level(1, 5, 20), Level(16, 30, 45), Level(64, 15, 20)),
    profile_level=Level(16, 10, 20),
    cache_misses=40,
    cache_hits=2000,
    memory_batch_sizes=(1, 4, 8),
    memory_chunked_seconds=(10, 60, 600),
    memory_whole_seconds=(10, 60, 180),  # one pass over 600 s takes a minute here; the trend is plain by 180
    upload_seconds=(30, 600),
    instance_batch_sizes=(1, 2, 4),
    instance_rounds=5,
    overlap_windows=(4.096, None),
    overlaps=(0.512, 1.024),
    base_batch_sizes=(1, 2),
    base_clips=5,
)
QUICK = Plan(
    limit_batch_sizes=(1, 2),
    limit_repeats=1,
    clips=4,
    levels=(Level(2, 1, 2),),
    compiled_levels=(),
    profile_level=Level(2, 0, 2),
    cache_misses=3,
    cache_hits=10,
    memory_batch_sizes=(),
    memory_chunked_seconds=(),
    memory_whole_seconds=(),
    upload_seconds=(5,),
    instance_batch_sizes=(1,),
    instance_rounds=1,
    overlap_windows=(None,),
    overlaps=(0.512,),
    max_batch=2,  # a shorter warm-up
)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def mix_description(separator: Separator, clips: list[Clip]) -> dict:
    """The mix's audio, and the chunk audio the service must run for it (overlap and padding included)."""
    chunking = separator.chunking
    lengths = [round(clip.seconds * separator.sample_rate) for clip in clips]
    chunk_samples = sum(chunking.model_samples(length) for length in lengths)
    return {
        "clips": len(clips),
        "audio_seconds": mix_seconds(clips),
        "chunk_seconds": chunk_samples / separator.sample_rate,
    }


def model_side(name: str, separator: Separator, batch_sizes, repeats: int, clips: list[Clip]) -> dict:
    log(f"{name}: the limit at batch sizes {list(batch_sizes)}")
    speeds = throughput.limit(separator, list(batch_sizes), repeats)
    log(f"{name}: the one-at-a-time baseline on {len(clips)} clips ({mix_seconds(clips):.0f} s of audio)")
    one_at_a_time = baseline.one_at_a_time(separator, clips)
    return {
        "sample_rate": separator.sample_rate,
        "chunk_seconds": separator.chunking.window / separator.sample_rate,
        "overlap_seconds": separator.chunking.overlap / separator.sample_rate,
        "text_encoder": separator.encoder.name,
        "limit": {size: speed.audio_per_second for size, speed in speeds.items()},
        "limit_cpu_cores": {size: speed.cpu_cores for size, speed in speeds.items()},
        "baseline": {**asdict(one_at_a_time), "throughput": one_at_a_time.throughput},
        "mix": mix_description(separator, clips),
    }


def service_side(plan: Plan, clips: list[Clip], output: Path) -> dict:
    """The service with its defaults (and compiled), each level between two measurements of the model
    alone in every configuration of instances (the same processes, idle meanwhile)."""
    results: dict = {"max_batch_setting": plan.max_batch}
    with InstanceLoop() as loop, BenchServer(TEXTSEP_MAX_BATCH=str(plan.max_batch)) as server:
        info = server.info()
        max_batch = results["max_batch"] = info["batching"]["max_batch"]
        results["instances"] = info["instances"]
        log(f"service: {describe(info)}")
        sizes = sorted(set(plan.instance_batch_sizes) | {max_batch})
        log(f"model alone as instances, eager: {loop.configurations} at batch sizes {sizes}")
        results["instance_limits"] = [row._asdict() for row in loop.measure(sizes, plan.instance_rounds)]
        tight_loop = partial(loop.best_by_batch, sizes, plan.instance_rounds)
        log(f"service: memory of stereo uploads of {list(plan.upload_seconds)} s")
        results["memory"] = memory.service_memory(server, list(plan.upload_seconds))
        results["batched"] = levels(server, plan.levels, clips, max_batch, tight_loop)
        if plan.profile_level is not None:
            results["profile"] = profile_server(server, plan.profile_level, clips, output)
    if plan.compiled_levels:
        log("compiled: the instances' first passes compile (minutes, unless the on-disk cache has them)")
        with InstanceLoop(compiled=True) as loop, BenchServer(TEXTSEP_COMPILE="true") as server:
            info = server.info()
            log(f"service, compiled: {describe(info)}")
            sizes = sorted(set(plan.instance_batch_sizes) | {info["batching"]["max_batch"]})
            measured = loop.measure(sizes, plan.instance_rounds)
            tight_loop = partial(loop.best_by_batch, sizes, plan.instance_rounds)
            results["compiled"] = {
                "instances": info["instances"],
                "max_batch": info["batching"]["max_batch"],
                "instance_limits": [row._asdict() for row in measured],
                "levels": levels(server, plan.compiled_levels, clips, info["batching"]["max_batch"], tight_loop),
            }
    return results


def describe(info: dict) -> str:
    chosen = info["instances"]
    return (
        f"{chosen['count']} instance(s) x {chosen['threads']} thread(s), max_batch {info['batching']['max_batch']}"
        f"{', compiled' if chosen['compiled'] else ''} ({chosen['chosen_by']})"
    )


def levels(server: BenchServer, plan_levels, clips: list[Clip], max_batch: int, tight_loop) -> list[dict]:
    summaries, before = [], tight_loop()
    for level in plan_levels:
        log(
            f"service (max_batch={max_batch}): {clients(level.concurrency)}, {level.warmup_s:g} s warm-up + "
            f"{level.window_s:g} s, the model alone before and after"
        )
        summary = load.run_level(
            server.url, server.process.pid, clips, level.concurrency, level.warmup_s, level.window_s
        )
        after = tight_loop()  # the server is idle meanwhile: its clients have hung up
        summaries.append({**summary, "max_batch": max_batch, "limit_before": before, "limit_after": after})
        before = after
    return summaries


def profile_server(server: BenchServer, level: Level, clips: list[Clip], output: Path) -> dict:
    """py-spy on the server during one extra level (kept apart: sampling costs CPU)."""
    if profile.py_spy() is None:
        log("py-spy is not installed: no profile")
        return {"error": "py-spy is not installed"}
    log(f"service: py-spy profile at {level.concurrency} clients for {level.window_s:g} s")
    collapsed = output / profile.COLLAPSED_FILE  # kept: the evidence behind the shares
    recorder = profile.start_recording(server.process.pid, level.warmup_s + level.window_s + 2, collapsed)
    summary = load.run_level(server.url, server.process.pid, clips, level.concurrency, level.warmup_s, level.window_s)
    _, errors = recorder.communicate()
    if recorder.returncode != 0:  # e.g. a container without ptrace: the rest of the run still counts
        log(f"py-spy failed: {errors.strip()}")
        return {"error": errors.strip()}
    stacks = collapsed.read_text()
    return {
        "concurrency": level.concurrency,
        "level": summary,
        "shares": profile.stage_shares(stacks),
        "inference_thread": profile.inference_thread_time(stacks),
    }


def in_process(plan: Plan, clips: list[Clip], work: Path) -> dict:
    """The limit and the baseline for each model, and the embedding cache for each text encoder."""
    bundled = Separator.from_pretrained("bundled")
    models = {"bundled-small": model_side("bundled-small", bundled, plan.limit_batch_sizes, plan.limit_repeats, clips)}
    separators = [bundled]
    if plan.base_clips:
        base = Separator(ResUNet.from_preset("audiosep-base"), fake_clap_text_encoder(work / "tokenizer"))
        base_clips = clip_mix(plan.base_clips, max_seconds=plan.base_max_seconds)
        models["audiosep-base"] = model_side(
            "audiosep-base", base, plan.base_batch_sizes, plan.base_repeats, base_clips
        )
        separators.append(base)
    log("embedding cache: hit and miss")
    cache = [embedding.cache_timings(s, plan.cache_misses, plan.cache_hits) for s in separators]
    return {"models": models, "embedding": cache}


def run(plan: Plan, output: Path) -> dict:
    started = time.monotonic()
    results: dict = {"machine": machine(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results["plan"] = asdict(plan)
    clips = clip_mix(plan.clips)
    with tempfile.TemporaryDirectory(prefix="textsep-bench-") as work:  # the fake CLAP tokenizer
        results.update(in_process(plan, clips, Path(work)))
    log(f"chunking: model work and error against one pass, windows {plan.overlap_windows} x overlaps {plan.overlaps}")
    results["chunking"] = overlap.table(plan.overlaps, plan.overlap_windows, clips=plan.clips)
    results["service"] = service_side(plan, clips, output)
    if plan.memory_batch_sizes or plan.memory_chunked_seconds or plan.memory_whole_seconds:
        log("memory: one fresh process per setting")
        results["memory"] = memory.model_memory(
            list(plan.memory_batch_sizes), list(plan.memory_chunked_seconds), list(plan.memory_whole_seconds)
        )
    results["duration_s"] = time.monotonic() - started
    results["machine"]["load_after"] = os.getloadavg()  # others' work on a shared machine shows here
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test of the code, not numbers")
    parser.add_argument("--results", type=Path, default=report.RESULTS_DIR, help="where results.json and the plots go")
    parser.add_argument("--markdown", type=Path, default=report.BENCHMARKS, help="the report to write")
    parser.add_argument("--gpu", action="store_true", help="the GPU measurements instead (bench/gpu.py)")
    parser.add_argument("--dry-run", action="store_true", help="with --gpu: tiny settings on whatever device there is")
    args = parser.parse_args(argv)
    if args.gpu:
        from bench import gpu

        return gpu.main(["--results", str(args.results), *(["--dry-run"] if args.dry_run else [])])

    args.results.mkdir(parents=True, exist_ok=True)
    results = run(QUICK if args.quick else FULL, args.results)
    (args.results / report.RESULTS_FILE).write_text(json.dumps(results, indent=1))
    report.write(args.results, args.markdown)
    log(f"done in {results['duration_s'] / 60:.1f} min: {args.markdown}")


if __name__ == "__main__":
    main()

"""BENCHMARKS.md and its plots, from the results of one `python -m bench` run.

    python -m bench.report     # rewrite them from bench/results/results.json, without measuring again

Goals are computed from the run's own numbers and checked against the issue's targets; where one
is missed, the report says by how much, next to the measurement (profile, batch sizes, padding)
that shows what limits it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bench.analysis import (
    GOAL_CLIENTS,
    MIB,
    SATURATION_SHARE,
    Run,
    by_batch,
    clients,
    level_at,
    level_limit,
    limits_around,
    ratio,
)
from bench.plots import draw_all
from bench.workload import UPLOAD_RATE

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "BENCHMARKS.md"
RESULTS_DIR = Path(__file__).parent / "results"
RESULTS_FILE = "results.json"


# ---- formatting -------------------------------------------------------------------------------


def number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def milliseconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.3f} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return (f"{100 * value:.3g} %" if value < 0.01 else percent(value, 1)) if unit == "percent" else f"{value:.2f}×"


def verdict(row: dict) -> str:
    if row["met"] is None:
        return "not measured in this run"
    if row["met"]:
        return "**met**"
    value, target = row["value"], row["target"]
    if row["unit"] == "percent":
        return f"**missed** by {100 * abs(target - value):.1f} points"
    return (
        f"**missed**: {value / target:.1f}× over the target"
        if row["lower"]
        else f"**missed**: {value / target:.0%} of the target"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the document -----------------------------------------------------------------------------


def image(path: Path | None, markdown: Path, alt: str) -> str:
    return "" if path is None else f"![{alt}]({os.path.relpath(path, markdown.parent)})\n"


def machine_line(run: Run) -> str:
    m = run.machine
    gpu = f"GPU: {m['gpu']}" if m["gpu"] else "no GPU"
    return (
        f"{m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), {m['memory_gib']} GiB, "
        f"Python {m['python']}, torch {m['torch']}, {gpu}"
    )


def limit_section(run: Run) -> str:
    parts = []
    for name, model in run.models.items():
        sizes, cores = by_batch(model["limit"]), by_batch(model["limit_cpu_cores"])
        single = sizes[min(sizes)]
        rows = [[str(s), number(v), f"{v / single:.2f}×", number(cores[s])] for s, v in sizes.items()]
        parts.append(
            f"**{name}** ({model['sample_rate'] // 1000} kHz, {model['chunk_seconds']:g} s chunks, "
            f"{model['text_encoder']} queries):\n\n"
            + table(["batch (chunks)", "chunk audio s per s", f"vs batch {min(sizes)}", "CPU cores busy"], rows)
        )
    return "\n\n".join(parts)


def baseline_section(run: Run) -> str:
    rows = []
    for name, model in run.models.items():
        b = model["baseline"]
        batch = max(by_batch(model["limit"]))
        best = max(by_batch(model["limit"]).values())
        rows.append(
            [
                name,
                str(len(b["latencies"])),
                f"{b['audio_seconds']:.0f}",
                number(b["throughput"]),
                percent(b["text_seconds"] / b["wall_seconds"], 1),
                f"{number(best / b['throughput'])}× (batch ≤ {batch})",
            ]
        )
    return table(
        ["model", "files", "audio (s)", "audio s per s", "of which text encoding", "best limit / baseline"], rows
    )


def service_rows(run: Run, levels: list[dict]) -> list[list[str]]:
    rows = []
    for level in levels:
        latency, short = level["latency"], level["short_latency"]
        rows.append(
            [
                str(level["concurrency"]),
                f"{level['answered']} / {level['rejected']}",
                number(level["throughput"], 1),
                number(level["chunk_throughput"], 1),
                f"{percent(ratio(level['chunk_throughput'], level_limit(level)[1]))} of "
                f"{number(level_limit(level)[1], 1)} (batch {level_limit(level)[0]})",
                percent(ratio(level["chunk_throughput"], limits_around(level).get(level["max_batch"]))),
                f"{number(ratio(level['throughput'], run.baseline))}×",
                " / ".join(number(latency[q]) for q in ("p50", "p95", "p99")),
                f"{number(short['p95'])} (n={level['short_clips']})",
                number(level["mean_batch"], 1),
                f"{number(level['server_cpu_cores'], 2)} + {number(level['client_cpu_cores'], 2)}",
            ]
        )
    return rows


SERVICE_HEADER = [
    "clients",
    "answered / 503",
    "audio s per s",
    "chunk audio s per s",
    "of the limit (best batch)",
    "of the model alone at max_batch",
    "vs one at a time",
    "latency p50 / p95 / p99 (s)",
    "1-2 s clips p95 (s)",
    "mean batch",
    "CPU cores: server + client",
]


def embedding_section(run: Run) -> str:
    rows = []
    for cache in run.results["embedding"]:
        model = run.model_of(cache["encoder"])
        shortest = min(run.models[model]["baseline"]["latencies"])
        rows.append(
            [
                cache["encoder"],
                milliseconds(cache["encode_s"]),
                milliseconds(cache["miss_s"]),
                milliseconds(cache["hit_s"]),
                f"{cache['miss_s'] / cache['hit_s']:,.0f}×",
                show(cache["hit_s"] / shortest, "percent"),
            ]
        )
    return table(
        ["text encoder", "encoder call", "cache miss", "cache hit", "miss / hit", "hit / shortest request"], rows
    )


def memory_section(run: Run) -> str:
    memory, service = run.results.get("memory"), run.service.get("memory", {})
    parts = []
    if memory:
        floor = memory["loaded"]["peak_rss_bytes"]
        rows = [
            [f"batch {k}", f"{v['peak_rss_bytes'] / MIB:.0f}", f"+{(v['peak_rss_bytes'] - floor) / MIB:.0f}"]
            for k, v in memory["by_batch"].items()
        ]
        for key, label in (("chunked", "chunks, batches of 8"), ("whole", "whole file, one pass")):
            rows += [
                [
                    f"{float(k):g} s clip, {label}",
                    f"{v['peak_rss_bytes'] / MIB:.0f}",
                    f"+{(v['peak_rss_bytes'] - floor) / MIB:.0f}",
                ]
                for k, v in memory[key].items()
            ]
        gpu = any(v.get("peak_gpu_bytes") for group in ("by_batch", "chunked", "whole") for v in memory[group].values())
        parts.append(
            f"Model alone, one fresh process per row (model loaded, nothing run: {floor / MIB:.0f} MiB"
            f"{'' if gpu else '; no GPU, so no GPU memory'}):\n\n"
            + table(["setting", "peak RSS (MiB)", "above the loaded model (MiB)"], rows)
        )
    if service:
        idle = service["0"]
        rows = [
            [
                f"after a {float(k):g} s upload" if float(k) else "ready, idle",
                f"{v / MIB:.0f}",
                f"+{(v - idle) / MIB:.0f}",
            ]
            for k, v in service.items()
        ]
        parts.append(
            f"The server (bundled model, max_batch={run.max_batch}), uploads of 44.1 kHz mono 16-bit WAV in turn:\n\n"
            + table(["moment", "peak RSS (MiB)", "above ready (MiB)"], rows)
        )
    return "\n\n".join(parts)


def profile_section(run: Run) -> str:
    profiled = run.service.get("profile", {})
    if "shares" not in profiled:
        return f"No profile in this run: {profiled.get('error', 'not asked for')}."
    level = profiled["level"]
    work = [[stage, percent(share, 1)] for stage, share in profiled["shares"].items()]
    inference = [[activity, percent(share, 1)] for activity, share in profiled.get("inference_thread", {}).items()]
    return (
        f"py-spy (`record --nonblocking --idle --rate 100`) on the server during {level['window_s']:.0f} s at "
        f"{profiled['concurrency']} clients, max_batch={run.max_batch} (a level of its own, so sampling does not "
        f"touch the numbers above; it ran at {number(level['chunk_throughput'], 1)} chunk audio s per s). The "
        "collapsed stacks are in `bench/results/profile-collapsed.txt`.\n\n"
        "What the server's threads were doing, as a share of the samples in which one was working:\n\n"
        + table(["stage", "share"], work)
        + ("\n\nThe inference thread's wall time:\n\n" + table(["activity", "share"], inference) if inference else "")
    )


def findings(run: Run) -> str:
    """What limits the service, stated from this run's own measurements."""
    sat, busy = run.saturation, run.at_goal_clients
    full = sat["max_batch"]
    lines = []
    # 1. What batching buys on this machine, from every tight-loop measurement of the run.
    around = [limits_around(level) for level in run.batched]
    best_batch, best = level_limit(sat)
    if full in around[0] and best_batch != full:
        slowdowns = [limits[full] / max(v for b, v in limits.items() if b <= full) for limits in around]
        lines.append(
            f"- **On this machine a batch of {full} is slower per chunk than a smaller one.** Around every service "
            f"level the model alone ran batch {full} at {percent(min(slowdowns))}-{percent(max(slowdowns))} of "
            f"the speed of its best batch size ({run.machine['cores']} cores, {run.machine['torch_threads']} torch "
            f"threads{', no GPU' if not run.machine['gpu'] else ''}): one chunk already keeps every core busy, and "
            f"a bigger batch probably falls out of the caches. With max_batch={full} the service is held to that "
            "speed: this is most of the gap to the limit, and why batching cannot beat one at a time here."
        )
    # 2. The service's own cost, at the batch size it ran.
    same_batch = limits_around(sat).get(full)
    inference = run.service.get("profile", {}).get("inference_thread", {})
    work = run.service.get("profile", {}).get("shares", {})
    if same_batch:
        share = ratio(sat["chunk_throughput"], same_batch)
        verdict = "is small" if share >= SATURATION_SHARE else f"is {percent(1 - share)} of the model's time"
        text = (
            f"- **The service's own cost {verdict}.** At saturation ({clients(sat['concurrency'])}, mean batch "
            f"{number(sat['mean_batch'], 1)}) it ran the model at {percent(share)} of the tight loop at the same "
            "batch size."
        )
        if inference:
            others = sorted(((k, v) for k, v in work.items() if k != "model forward"), key=lambda kv: -kv[1])[:3]
            text += (
                f" The inference thread spent {percent(inference.get('model forward'), 1)} of its time in the "
                "forward pass, so most of the gap is the forward pass itself running slower beside the request "
                f"work on the same {run.machine['cores']} cores: of all the server's working samples "
                f"{percent(work.get('model forward'), 1)} were the forward pass, the largest of the rest "
                + ", ".join(f"{k} ({percent(v, 1)})" for k, v in others)
                + "."
            )
        lines.append(text)
    # 3. Chunking.
    ceiling = 1 / run.chunk_per_audio
    lines.append(
        f"- **Chunking adds {percent(run.chunk_per_audio - 1)} model work on this mix.** Every upload is cut into "
        f"{run.bundled['chunk_seconds']:g} s windows overlapping by {run.bundled['overlap_seconds']:g} s, and a clip "
        "shorter than one window is zero-padded to the smallest halving of the window that holds it (a 1.2 s clip "
        "runs as a quarter window): the model runs "
        f"{number(run.chunk_per_audio)} s of chunk audio per uploaded second, where one-at-a-time runs each file "
        f"once, unpadded. In uploaded audio the service can reach at most {percent(ceiling)} of the limit; at "
        f"saturation it reached {percent(ratio(sat['throughput'], run.limit))}."
    )
    # 4. Against one at a time.
    if busy:
        lines.append(
            f"- **Against one at a time** ({number(run.baseline, 1)} audio s per s, whole files at batch 1): at "
            f"{clients(busy['concurrency'])} the service delivered {number(busy['throughput'], 1)} "
            f"({number(ratio(busy['throughput'], run.baseline))}×), running batches of up to {run.max_batch}. "
            "Where a bigger batch is no faster per chunk (first point), the service can only match one at a time "
            "minus its chunking overhead (third point) and its own cost (second point); the batcher's gains show on "
            "hardware where a batch costs about what one chunk does, which this run could not measure."
        )
    # 5. Short clips.
    if busy and run.short_alone and busy["short_latency"]["p95"]:
        lines.append(
            f"- **Short clips under load**: alone, a 1-2 s clip takes {number(run.short_alone, 3)} s (median); at "
            f"{clients(busy['concurrency'])} its p95 is {number(busy['short_latency']['p95'])} s "
            f"({busy['short_latency']['p95'] / run.short_alone:.1f}×). The batcher runs the earliest deadline "
            "first (arrival + 10 × the request's own work), so a short clip overtakes the long ones queued before "
            "it; with max_batch=1 its p95 is "
            + (f"{number(level_at(run.serial, GOAL_CLIENTS)['short_latency']['p95'])} s." if run.serial else "–.")
        )
    lines += memory_findings(run)
    return "\n".join(lines)


def memory_findings(run: Run) -> list[str]:
    model, server = run.results.get("memory"), run.service.get("memory", {})
    longest = max((float(k) for k in server), default=0)
    batch = (model or {}).get("by_batch", {}).get(str(run.max_batch))
    if not (batch and model["whole"] and longest):
        return []
    grown = (server[f"{longest:g}"] - server["0"]) / MIB
    working = (batch["peak_rss_bytes"] - model["loaded"]["peak_rss_bytes"]) / MIB
    decoded = longest * UPLOAD_RATE * 4 / MIB  # the upload as float32, once
    whole = {float(k): v["peak_rss_bytes"] for k, v in model["whole"].items()}
    per_minute = (whole[max(whole)] - whole[min(whole)]) / (max(whole) - min(whole)) * 60 / MIB
    return [
        f"- **Memory**: a {longest / 60:g}-minute upload raised the server's peak RSS by {grown:.0f} MiB. The "
        f"model's working memory is bounded by the batch ({working:.0f} MiB at batch {run.max_batch}, whatever the "
        f"length); the rest, {grown - working:.0f} MiB, is the upload's own arrays along the request path, "
        f"{(grown - working) / decoded:.1f}× the decoded float32 audio ({decoded:.0f} MiB). A whole-file pass, as "
        f"one at a time runs it, grows by {per_minute:.0f} MiB per minute of audio."
    ]


def render(run: Run, plots: dict[str, Path | None], markdown: Path) -> str:
    r = run.results
    goal_rows = [
        [
            g["goal"],
            show(g["target"], g["unit"]) if g["unit"] == "percent" else f"{g['target']:g}×",
            show(g["value"], g["unit"]),
            verdict(g),
        ]
        for g in run.goals()
    ]
    gpu_note = (
        ""
        if run.machine["gpu"]
        else "No GPU was available for this run: every number is CPU-only, and the GPU goals (peak GPU memory, "
        "GPU throughput) are not assessed here. "
    )
    sections = [
        "# Benchmarks",
        f"Written by `make bench` (`python -m bench`) on {r['date']}, in {r['duration_s'] / 60:.1f} minutes. "
        f"Machine: {machine_line(run)}. {gpu_note}"
        "Every number comes from this one run; the machine is shared and noisy, so read the ratios, not the "
        "absolute times. Raw results: `bench/results/results.json`.",
        "What is compared, on the same model and the same inputs: **the limit** (`Separator.separate_chunks` in a "
        "tight loop, per batch size), **the baseline** (AudioSep's official procedure one file at a time, "
        "in-process: whole file in one pass, query re-encoded each call, no batching, no server) and **the "
        "service** (a real server on loopback, closed-loop HTTP clients replaying a seeded mix of "
        f"{run.bundled['mix']['clips']} clips of 1-30 s, log-uniform, 44.1 kHz mono WAV, six queries with "
        "Zipf-like frequencies). The service runs the bundled model; the limit and the baseline also run "
        "`audiosep-base` (the official ResUNet30 layout, random weights, the CLAP text branch built from the "
        "real checkpoint's tensor shapes): speed does not depend on the weights' values.",
        "## Goals",
        table(["goal", "target", "measured", ""], goal_rows),
        image(plots["overview"], markdown, "baseline, service and limit"),
        "## What limits it",
        findings(run),
        "## 1. The limit: the model alone",
        limit_section(run),
        image(plots["limit"], markdown, "limit by batch size"),
        "## 2. The baseline: one file at a time",
        baseline_section(run),
        "## 3. The service under load",
        "Closed-loop clients (httpx, asyncio), each sending its next clip as soon as its answer is in. Per level: a "
        "warm-up, then a measured window between two `/metrics` scrapes; *answered* counts answers inside the "
        "window, *chunk audio* is the model work from the `textsep_batch_size` histogram. *Limit*: the model "
        "alone in a tight loop, measured right before and right after the level (the mean), at its best batch "
        "size up to the server's max_batch, because the machine drifts over a run. Latency includes upload and "
        "download over loopback. 1-2 s clips are about a fifth of the mix.",
        f"**max_batch={run.service.get('max_batch_setting', run.max_batch)}** (the default; batches of up to "
        f"{run.max_batch} here):",
        table(SERVICE_HEADER, service_rows(run, run.batched)),
        *(
            ["**max_batch=1** (no batching):", table(SERVICE_HEADER, service_rows(run, run.serial))]
            if run.serial
            else []
        ),
        image(plots["service"], markdown, "service throughput and latency"),
        image(plots["short"], markdown, "short clip latency"),
        image(plots["batches"], markdown, "batch size distribution"),
        "## 4. The query-embedding cache",
        "Timed through the service's `EmbeddingCache` (a miss includes its 5 ms coalescing pause, which lets a burst "
        "of new queries share one encoder call). *Shortest request*: the fastest one-at-a-time file of the mix on "
        "that model.",
        embedding_section(run),
        image(plots["embedding"], markdown, "embedding hit vs miss"),
        "## 5. Memory",
        memory_section(run),
        image(plots["memory"], markdown, "peak memory"),
        "## 6. Profile of the loaded server",
        profile_section(run),
        image(plots["profile"], markdown, "profile"),
        "## Reproduce",
        "```sh\nmake bench                # or: HF_HUB_OFFLINE=1 .venv/bin/python -m bench\n"
        "python -m bench --quick   # seconds; checks the code, the numbers mean nothing\n"
        "python -m bench.report    # rewrite this file and the plots from bench/results/results.json\n```",
    ]
    return "\n\n".join(section.strip() for section in sections if section.strip()) + "\n"


def write(results_dir: Path = RESULTS_DIR, markdown: Path = BENCHMARKS) -> None:
    run = Run(json.loads((results_dir / RESULTS_FILE).read_text()))
    markdown.write_text(render(run, draw_all(run, results_dir), markdown))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--markdown", type=Path, default=BENCHMARKS)
    args = parser.parse_args(argv)
    write(args.results, args.markdown)


if __name__ == "__main__":
    main()

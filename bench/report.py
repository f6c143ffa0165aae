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
    MIB,
    Run,
    by_batch,
    clients,
    duration,
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
    if unit == "percent":
        return f"{100 * value:.3g} %" if value < 0.01 else percent(value, 1)
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3g}" if unit == "number" else f"{value:.2f}×"


def target_text(row: dict) -> str:
    target, unit = row["target"], row["unit"]
    if target is None:
        return "–"
    bound = "≤ " if row["lower"] else "≥ "
    if unit == "percent":
        return bound + show(target, unit)
    return bound + (f"{target:g} MB" if unit == "MB" else f"{target:g}" if unit == "number" else f"{target:g}×")


def verdict(row: dict) -> str:
    if row["value"] is None:
        return "not measured in this run" + (": no GPU" if row["goal"].startswith("GPU") else "")
    if row["met"] is None:
        return "(no target)"
    if row["met"]:
        return "**met**"
    value, target = row["value"], row["target"]
    if row["unit"] == "percent":
        return f"**missed** by {100 * abs(target - value):.1f} points"
    if row["unit"] in ("MB", "number"):
        return f"**missed**: {value / target:.2f}× the target"
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
    load = (
        f"; load average (1 min) {m['load'][0]:.1f} when it began, {m['load_after'][0]:.1f} when it ended"
        if "load" in m and "load_after" in m
        else ""
    )
    return (
        f"{m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), {m['memory_gib']} GiB, "
        f"Python {m['python']}, torch {m['torch']}, {gpu}{load}"
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


def instances_section(run: Run) -> str:
    """The model alone as the service runs it: every configuration of instances, eager and compiled."""
    tables = {"eager": run.service.get("instance_limits", [])}
    if run.service.get("compiled"):
        tables["compiled"] = run.service["compiled"]["instance_limits"]
    keys = sorted({(r["instances"], r["threads"], r["batch"]) for r in tables["eager"]})
    figures = {name: {(r["instances"], r["threads"], r["batch"]): r["chunk_audio_per_second"] for r in rows}
               for name, rows in tables.items()}  # fmt: skip
    header = ["instances x threads", "batch", *(f"{name}: chunk audio s per s" for name in tables)]
    if "compiled" in tables:
        header.append("compiled / eager")
    rows = []
    for n, t, b in keys:
        row = [f"{n} x {t}", str(b), *(number(figures[name].get((n, t, b)), 1) for name in tables)]
        if "compiled" in tables:
            row.append(f"{number(ratio(figures['compiled'].get((n, t, b)), figures['eager'][(n, t, b)]))}×")
        rows.append(row)
    chosen = run.service.get("instances", {})
    said = (
        f"The server's own choice at warm-up (`auto`, best of short rounds): **{chosen.get('count')} instance(s) x "
        f"{chosen.get('threads')} thread(s), max_batch {run.max_batch}**, from "
        + "; ".join(
            f"{r['instances']}x{r['threads']} batch {r['batch']}: {r['chunk_audio_per_second']:.1f}"
            for r in chosen.get("measured", [])
        )
        + "."
        if chosen
        else ""
    )
    return (
        "Instance processes of the service (`service/instances.py`), nothing else running in them, every way to "
        "fill the cores, each figure the median of short rounds with all the configuration's instances at once "
        "(bundled-small, full windows):\n\n" + table(header, rows) + ("\n\n" + said if said else "")
    )


def chunking_section(run: Run) -> str:
    rows = [
        [f"{r['window_s']:.3f}", f"{r['overlap_s']:.3f}", number(r["model_work"], 3), number(r["error_db"], 1)]
        for r in run.results.get("chunking", [])
    ]
    return (
        "What the windows cost and what they buy (`python -m bench.overlap`), bundled-small: model work per "
        "uploaded second of the mix (full windows, the last one only as long as needed, short clips at their own "
        "length), and the error of the chunked answer against one pass over the whole signal (30 s of the "
        "example recording, the worse of two queries; the goal is -40 dB or less). The service runs the model's "
        f"own window, {run.bundled['chunk_seconds']:g} s with {run.bundled['overlap_seconds']:g} s of cross-fade.\n\n"
        + table(["window (s)", "overlap (s)", "model s per uploaded s", "chunked vs one pass (dB)"], rows)
    )


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
        ["model", "files", "audio (s)", "audio s per s", "text encoding (extra)", "best in-process limit / baseline"],
        rows,
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
    "of the best model-alone configuration",
    "of the model alone at max_batch",
    "vs the library one at a time",
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
            f"The server's HTTP process (bundled model, max_batch={run.max_batch}; the model's memory is in its "
            "instances, bounded by the batch as above), uploads of 44.1 kHz stereo 16-bit WAV in turn:\n\n"
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
    chosen = run.service.get("instances", {})
    lines = []
    # 1. Against the library one at a time.
    if busy:
        lines.append(
            f"- **Against the library one file at a time** ({number(run.baseline, 1)} audio s per s: "
            f"`Separator.separate` with its defaults, {run.machine['torch_threads']} torch threads in one process): "
            f"at {clients(busy['concurrency'])} the service delivered {number(busy['throughput'], 1)} "
            f"({number(ratio(busy['throughput'], run.baseline))}×) with {chosen.get('count')} instance(s) x "
            f"{chosen.get('threads')} thread(s) and batches of up to {run.max_batch}, as its warm-up measured best. "
            "Separate single-threaded processes keep the cores busy where one multi-threaded forward pass stalls "
            "whenever anything else takes a core; the HTTP work (decoding, resampling, encoding) runs beside them."
        )
    # 2. The service's own cost.
    share = ratio(sat["chunk_throughput"], run.limit)
    work = run.service.get("profile", {}).get("shares", {})
    text = (
        f"- **The service against the model alone**: at saturation ({clients(sat['concurrency'])}, mean batch "
        f"{number(sat['mean_batch'], 1)}) it ran {percent(share)} of the chunk audio per second of the best "
        f"model-alone configuration measured around it ({number(run.limit, 1)}, batch {level_limit(sat)[0]}), "
        f"using {number(sat['server_cpu_cores'], 2)} cores in the HTTP process besides its instances."
    )
    others = sat["server_cpu_cores"] + sat["client_cpu_cores"]
    if not run.machine["gpu"] and others:
        cores = run.machine["cores"]
        text += (
            f" On {cores} cores the HTTP process and the load generator ({number(others, 2)} cores together) leave "
            f"the instances at most {percent((cores - others) / cores)} of the machine the model alone had."
        )
    if work:
        others = sorted(((k, v) for k, v in work.items() if k != "model forward"), key=lambda kv: -kv[1])[:3]
        text += (
            f" Of all working samples of the server and its instances, {percent(work.get('model forward'), 1)} were "
            "the forward pass; the largest of the rest: " + ", ".join(f"{k} ({percent(v, 1)})" for k, v in others) + "."
        )
    lines.append(text)
    # 3. Chunking.
    chunking = {(round(r["window_s"], 3), round(r["overlap_s"], 3)): r for r in run.results.get("chunking", [])}
    own = chunking.get((round(run.bundled["chunk_seconds"], 3), round(run.bundled["overlap_seconds"], 3)))
    lines.append(
        f"- **Chunking adds {percent(run.chunk_per_audio - 1)} model work on this mix** "
        f"({number(run.chunk_per_audio, 3)} s of chunk audio per uploaded second): "
        f"{run.bundled['chunk_seconds']:g} s windows overlapping by {run.bundled['overlap_seconds']:g} s, the last "
        "window of a clip starting on the network's grid and running to the clip's exact end, a clip shorter than "
        "a window run at its own length"
        + (f"; the answers are within {number(own['error_db'], 1)} dB of one pass." if own else ".")
    )
    # 4. Short clips.
    if busy and run.short_alone and busy["short_latency"]["p95"]:
        lines.append(
            f"- **Short clips under load**: alone, a 1-2 s clip takes {number(run.short_alone, 3)} s (median); at "
            f"{clients(busy['concurrency'])} its p95 is {number(busy['short_latency']['p95'])} s "
            f"({busy['short_latency']['p95'] / run.short_alone:.1f}×). The batcher runs the earliest deadline "
            "first (arrival + 10 × the request's own work), so a short clip overtakes the long ones queued before "
            "it, but it still waits for the windows already running on every instance, and for its turn in the "
            "HTTP process's decoding and encoding beside the other clients'."
        )
    # 5. Compiled.
    if run.compiled:
        compiled_sat = max(run.compiled, key=lambda level: level["concurrency"])
        lines.append(
            f"- **Compiled** (TEXTSEP_COMPILE=true): the model alone ran {number(level_limit(compiled_sat)[1], 1)} chunk "
            f"audio s per s in its best configuration against {number(run.limit, 1)} eager; the compiled service at "
            f"{clients(compiled_sat['concurrency'])} delivered {number(compiled_sat['throughput'], 1)} audio s per "
            f"s ({number(ratio(compiled_sat['throughput'], run.baseline))}× the library one at a time). Compiling "
            "happens at warm-up, before /readyz; it is off by default on a CPU because the first compilation "
            "takes minutes there (a restart reads the on-disk cache)."
        )
    lines += memory_findings(run)
    return "\n".join(lines)


def memory_findings(run: Run) -> list[str]:
    growth = run.upload_growth
    if not growth:
        return []
    seconds, grown = growth
    decoded = seconds * UPLOAD_RATE * 2 * 4 / MIB  # the stereo upload as float32, once
    return [
        f"- **Memory**: a {duration(seconds)} 44.1 kHz stereo upload raised the HTTP process's peak RSS by "
        f"{grown / MIB:.0f} MiB, {grown / MIB / decoded:.1f}× the decoded float32 audio ({decoded:.0f} MiB). The "
        "forward pass's working memory is in the instances, bounded by the batch. What remains is held along the "
        "request path: the upload at its own rate (the handler keeps it to the end), the answer at that rate, the "
        "encoded file, and the encoder's temporaries."
    ]


def render(run: Run, plots: dict[str, Path | None], markdown: Path) -> str:
    r = run.results
    goal_rows = [
        [
            g["goal"],
            target_text(g),
            show(g["value"], g["unit"]),
            verdict(g),
        ]
        for g in run.goals()
    ]
    gpu_note = (
        ""
        if run.machine["gpu"]
        else "No GPU was available for this run: every number is CPU-only, and the GPU goals (peak GPU memory, "
        "GPU throughput) are not assessed here; `make bench-gpu` (`python -m bench --gpu`, bench/gpu.py) measures "
        "them in one call on a CUDA machine, and has run only as a dry run on a CPU (`--dry-run`, in the tests). "
    )
    sections = [
        "# Benchmarks",
        f"Written by `make bench` (`python -m bench`) on {r['date']}, in {r['duration_s'] / 60:.1f} minutes. "
        f"Machine: {machine_line(run)}. {gpu_note}"
        "Every number comes from this one run; the machine is shared and noisy, so read the ratios, not the "
        "absolute times. Raw results: `bench/results/results.json`.",
        "What is compared, on the same model and the same inputs: **the model alone** (its network in a tight "
        "loop: in one process at each batch size, and as the service runs it, instance processes in every "
        "configuration that fills the cores), **the baseline** (the library one file at a time, in-process, as a "
        "user calls it: `Separator.separate` with its defaults, decoding and writing a WAV around it) and **the "
        "service** (a real server on loopback with its default settings, closed-loop HTTP clients replaying a "
        f"seeded mix of {run.bundled['mix']['clips']} clips of 1-30 s, log-uniform, 44.1 kHz mono WAV, six "
        "queries with Zipf-like frequencies). The service runs the bundled model; the in-process limit and the "
        "baseline also run `audiosep-base` (the official ResUNet30 layout, random weights, the CLAP text branch "
        "built from the real checkpoint's tensor shapes): speed does not depend on the weights' values. The run "
        "was made with nothing else of this project running (the background training run was paused for it); "
        "the machine is shared with other sessions' work, which we cannot pause, and which weighs on every "
        "figure taken while it runs: the ratios are taken within minutes of each other for that reason.",
        "## Goals",
        table(["goal", "target", "measured", ""], goal_rows),
        image(plots["overview"], markdown, "baseline, service and limit"),
        "## What limits it",
        findings(run),
        "## 1. The limit: the model alone",
        "In one process, torch's own threads, at each batch size:",
        limit_section(run),
        image(plots["limit"], markdown, "limit by batch size"),
        instances_section(run),
        "## 2. The baseline: the library, one file at a time",
        baseline_section(run),
        "## Chunking",
        chunking_section(run),
        "## 3. The service under load",
        "Closed-loop clients (httpx, asyncio), each sending its next clip as soon as its answer is in. Per level: a "
        "warm-up, then a measured window between two `/metrics` scrapes; *answered* counts answers inside the "
        "window, *chunk audio* is the model work from the `textsep_chunk_audio_seconds` counter. *The best "
        "model-alone configuration*: the instance processes in a tight loop in every configuration, measured "
        "right before and right after the level (the mean), the best at any batch size up to the server's "
        "max_batch, because the machine drifts over a run. Latency includes upload and download over loopback. "
        "1-2 s clips are about a fifth of the mix.",
        f"**The defaults** (TEXTSEP_INSTANCES, TEXTSEP_THREADS and TEXTSEP_MAX_BATCH `auto`: "
        f"{run.service.get('instances', {}).get('count')} instance(s) x {run.service.get('instances', {}).get('threads')} "
        f"thread(s), batches of up to {run.max_batch} here):",
        table(SERVICE_HEADER, service_rows(run, run.batched)),
        *(
            [
                "**Compiled** (TEXTSEP_COMPILE=true; its limit is the model alone compiled, in every configuration):",
                table(SERVICE_HEADER, service_rows(run, run.compiled)),
            ]
            if run.compiled
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

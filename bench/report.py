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

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "BENCHMARKS.md"
RESULTS_DIR = Path(__file__).parent / "results"
RESULTS_FILE = "results.json"
MIB = 2**20

# The targets.
SATURATION_SHARE = 0.95  # service throughput at saturation / the limit
SPEEDUP_AT_16 = 1.5  # service throughput at 16 clients / one at a time
SHORT_P95_FACTOR = 3.0  # p95 latency of 1-2 s clips at 16 clients / their time alone
CACHED_EMBED_SHARE = 0.01  # a cached query embedding / a request's time
GOAL_CLIENTS = 16


# ---- the numbers behind the goals -------------------------------------------------------------


def by_batch(table: dict) -> dict[int, float]:
    return {int(size): value for size, value in table.items()}


def level_at(levels: list[dict], clients: int) -> dict | None:
    """The level with `clients` clients, or the largest one below."""
    below = [level for level in levels if level["concurrency"] <= clients]
    return max(below, key=lambda level: level["concurrency"]) if below else None


def limits_around(level: dict) -> dict[int, float]:
    """{batch size: chunk audio s per s} of the model alone in a tight loop, the mean of the
    measurements right before and right after the level."""
    before, after = by_batch(level["limit_before"]), by_batch(level["limit_after"])
    return {b: (before[b] + after[b]) / 2 for b in before}


def level_limit(level: dict) -> tuple[int, float]:
    """(batch size, chunk audio s per s): the model's best around the level, at any batch size this
    server could form."""
    usable = {b: v for b, v in limits_around(level).items() if b <= level["max_batch"]}
    best = max(usable, key=usable.get)
    return best, usable[best]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


class Run:
    """One run's results, with the derived quantities the tables and goals use."""

    def __init__(self, results: dict):
        self.results = results
        self.machine = results["machine"]
        self.models = results["models"]
        self.bundled = self.models["bundled-small"]
        self.service = results["service"]
        self.batched = self.service.get("batched", [])
        self.serial = self.service.get("serial", [])
        self.max_batch = self.service["max_batch"]
        self.limits = by_batch(self.bundled["limit"])  # measured first, with the most repeats
        self.baseline = self.bundled["baseline"]["throughput"]
        mix = self.bundled["mix"]
        self.chunk_per_audio = mix["chunk_seconds"] / mix["audio_seconds"]  # overlap and padding of the mix

    @property
    def saturation(self) -> dict:
        """The level with the most clients: the queue never runs dry there."""
        return max(self.batched, key=lambda level: level["concurrency"])

    @property
    def limit(self) -> float:
        return level_limit(self.saturation)[1]

    @property
    def at_goal_clients(self) -> dict | None:
        return level_at(self.batched, GOAL_CLIENTS)

    @property
    def short_alone(self) -> float | None:
        """Median latency of a 1-2 s clip with nothing else in flight (one client, batching on)."""
        alone = next((level for level in self.batched if level["concurrency"] == 1), None)
        return alone["short_latency"]["p50"] if alone else None

    def goals(self) -> list[dict]:
        busy = self.at_goal_clients or {}
        count = busy.get("concurrency", GOAL_CLIENTS)
        rows = [
            goal(
                f"service throughput at saturation ({self.saturation['concurrency']} clients) / the limit measured "
                "around it (model work, in chunk audio)",
                ratio(self.saturation["chunk_throughput"], self.limit),
                SATURATION_SHARE,
                "percent",
            ),
            goal(
                f"service throughput at {count} clients / one at a time (uploaded audio)",
                ratio(busy.get("throughput"), self.baseline),
                SPEEDUP_AT_16,
                "times",
            ),
            goal(
                f"p95 latency of 1-2 s clips at {count} clients / their median latency alone",
                ratio((busy.get("short_latency") or {}).get("p95"), self.short_alone),
                SHORT_P95_FACTOR,
                "times",
                lower_is_better=True,
            ),
        ]
        for cache in self.results["embedding"]:
            model = self.model_of(cache["encoder"])
            shortest = min(self.models[model]["baseline"]["latencies"])
            rows.append(
                goal(
                    f"cached query embedding ({cache['encoder']}) / the shortest request of the mix ({model})",
                    ratio(cache["hit_s"], shortest),
                    CACHED_EMBED_SHARE,
                    "percent",
                    lower_is_better=True,
                )
            )
        return rows

    def model_of(self, encoder: str) -> str:
        return next(name for name, model in self.models.items() if model["text_encoder"] == encoder)


def goal(name: str, value: float | None, target: float, unit: str, lower_is_better: bool = False) -> dict:
    met = None if value is None else (value <= target if lower_is_better else value >= target)
    return {"goal": name, "value": value, "target": target, "unit": unit, "lower": lower_is_better, "met": met}


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
        f"**missed**: {value / target:.1f}× the target" if row["lower"] else f"**missed**: {value / target:.0%} of it"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- plots ------------------------------------------------------------------------------------


def log2_axis(axis, ticks: list[int], label: str) -> None:
    """Batch sizes and client counts double from one point to the next: label the points themselves."""
    axis.set_xscale("log", base=2)
    axis.set_xticks(ticks, [str(t) for t in ticks])
    axis.minorticks_off()
    axis.set_xlabel(label)


def clients(count: int) -> str:
    return f"{count} client{'s' if count != 1 else ''}"


def configurations(run: Run) -> list[tuple[str, list[dict], str, str]]:
    """(label, levels, line style, colour) of each server configuration that ran."""
    both = [
        (f"max_batch={run.max_batch}", run.batched, "o-", "tab:blue"),
        ("max_batch=1", run.serial, "s--", "tab:green"),
    ]
    return [configuration for configuration in both if configuration[1]]


def clients_of(run: Run) -> list[int]:
    return sorted({level["concurrency"] for level in run.batched + run.serial})


def save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_overview(run: Run, path: Path) -> Path:
    """One picture of the issue's question: the service between the baseline and the limit."""
    bars = [("one at a time (baseline)", run.baseline, "tab:gray")]
    for label, levels in (("service, max_batch=1", run.serial), (f"service, max_batch={run.max_batch}", run.batched)):
        busy = level_at(levels, GOAL_CLIENTS)
        if busy:
            bars.append((f"{label}, {clients(busy['concurrency'])}", busy["throughput"], "tab:blue"))
    saturation = run.saturation
    bars.append((f"service at saturation ({clients(saturation['concurrency'])})", saturation["throughput"], "tab:blue"))
    figure, axis = plt.subplots(figsize=(8, 3.8))
    labels, values, colours = zip(*bars)
    axis.barh(labels, values, color=colours)
    axis.axvline(run.limit, color="tab:red", linestyle="--", label="the limit (model alone, around saturation)")
    axis.axvline(
        run.limit / run.chunk_per_audio,
        color="tab:orange",
        linestyle=":",
        label="the limit after this mix's chunk overlap and padding",
    )
    axis.invert_yaxis()
    axis.set_xlabel("seconds of uploaded audio separated per second")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8)
    axis.set_title("bundled model: baseline, service and the model's limit")
    return save(figure, path)


def plot_limit(run: Run, path: Path) -> Path:
    figure, axes = plt.subplots(1, len(run.models), figsize=(4.5 * len(run.models), 3.4), squeeze=False)
    for axis, (name, model) in zip(axes[0], run.models.items()):
        sizes = by_batch(model["limit"])
        axis.plot(list(sizes), list(sizes.values()), "o-", label="separate_chunks, tight loop")
        axis.axhline(model["baseline"]["throughput"], color="tab:gray", linestyle="--", label="one at a time")
        log2_axis(axis, list(sizes), "batch size (chunks)")
        axis.set_ylim(bottom=0)
        axis.set_ylabel("audio seconds per second")
        axis.set_title(f"{name} ({model['chunk_seconds']:g} s chunks)")
        axis.legend(fontsize=8)
    return save(figure, path)


def plot_service(run: Run, path: Path) -> Path:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, levels, style, colour in configurations(run):
        counts = [level["concurrency"] for level in levels]
        left.plot(counts, [level["throughput"] for level in levels], style, color=colour, label=f"{label}: uploaded")
        left.plot(
            counts,
            [level["chunk_throughput"] for level in levels],
            style,
            color=colour,
            alpha=0.35,
            label=f"{label}: chunk audio (model work)",
        )
        for q, alpha in (("p50", 1.0), ("p95", 0.6), ("p99", 0.3)):
            latencies = [level["latency"][q] for level in levels]
            right.plot(counts, latencies, style, color=colour, alpha=alpha, label=f"{label} {q}")
    for label, levels, style, colour in configurations(run):
        counts = [level["concurrency"] for level in levels]
        limits = [level_limit(level)[1] for level in levels]
        left.plot(counts, limits, ":", color=colour, label=f"{label}: the limit around each level")
    left.axhline(run.baseline, color="tab:gray", linestyle="--", label="one at a time")
    for axis in (left, right):
        log2_axis(axis, clients_of(run), "concurrent clients")
    left.set_ylim(bottom=0)
    left.set_ylabel("audio seconds per second")
    left.set_title("throughput")
    right.set_yscale("log")
    right.set_ylabel("latency (s)")
    right.set_title("latency, all clips")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return save(figure, path)


def plot_short_latency(run: Run, path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    for label, levels, style, colour in configurations(run):
        measured = [level for level in levels if level["short_latency"]["p95"] is not None]
        if measured:
            axis.plot(
                [level["concurrency"] for level in measured],
                [level["short_latency"]["p95"] for level in measured],
                style,
                color=colour,
                label=f"{label}: p95",
            )
    if run.short_alone:
        axis.axhline(
            SHORT_P95_FACTOR * run.short_alone,
            color="tab:red",
            linestyle="--",
            label=f"goal: {SHORT_P95_FACTOR:g}× the time alone",
        )
    log2_axis(axis, clients_of(run), "concurrent clients")
    axis.set_yscale("log")
    axis.set_ylabel("latency (s)")
    axis.set_title("1-2 s clips among long ones")
    axis.legend(fontsize=8)
    return save(figure, path)


def plot_batch_sizes(run: Run, path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    width = 0.8 / max(1, len(run.batched))
    for i, level in enumerate(run.batched):
        counts = by_batch(level["batch_sizes"])
        total = sum(counts.values()) or 1
        axis.bar(
            [s + (i - len(run.batched) / 2 + 0.5) * width for s in counts],
            [c / total for c in counts.values()],
            width,
            label=clients(level["concurrency"]),
        )
    axis.set_xticks(range(1, run.max_batch + 1))
    axis.set_xlabel("chunks per forward pass")
    axis.set_ylabel("share of forward passes")
    axis.set_title(f"batch sizes from /metrics (max_batch={run.max_batch})")
    axis.legend(fontsize=8)
    return save(figure, path)


def plot_embedding(run: Run, path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(6, 3.2))
    caches = run.results["embedding"]
    kinds = (("encode_s", "encoder call"), ("miss_s", "cache miss"), ("hit_s", "cache hit"))
    width = 0.8 / len(caches)
    for i, cache in enumerate(caches):
        axis.bar(
            [k + i * width for k in range(len(kinds))],
            [cache[key] * 1000 for key, _ in kinds],
            width,
            label=cache["encoder"],
        )
    axis.set_xticks([k + width * (len(caches) - 1) / 2 for k in range(len(kinds))], [label for _, label in kinds])
    axis.set_yscale("log")
    axis.set_ylabel("milliseconds per query")
    axis.set_title("query embedding: hit vs miss")
    axis.legend(fontsize=8)
    return save(figure, path)


def plot_memory(run: Run, path: Path) -> Path | None:
    memory = run.results.get("memory")
    if not memory:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    floor = memory["loaded"]["peak_rss_bytes"] / MIB
    sizes = by_batch({k: v["peak_rss_bytes"] / MIB for k, v in memory["by_batch"].items()})
    left.plot(list(sizes), list(sizes.values()), "o-")
    left.axhline(floor, color="tab:gray", linestyle="--", label="model loaded, nothing run")
    left.set_xlabel("batch size (4 s chunks)")
    left.set_ylabel("peak RSS (MiB)")
    left.set_title("by batch size")
    left.legend(fontsize=8)
    for key, label, style in (
        ("chunked", "chunks, batches of 8 (service)", "o-"),
        ("whole", "whole file, one pass (baseline)", "s--"),
    ):
        lengths = {float(k): v["peak_rss_bytes"] / MIB for k, v in memory[key].items()}
        right.plot(list(lengths), list(lengths.values()), style, label=label)
    right.axhline(floor, color="tab:gray", linestyle="--", label="model loaded")
    right.set_xscale("log")
    right.set_xlabel("clip length (s)")
    right.set_ylabel("peak RSS (MiB)")
    right.set_title("by clip length")
    right.legend(fontsize=8)
    return save(figure, path)


def plot_profile(run: Run, path: Path) -> Path | None:
    shares = run.service.get("profile", {}).get("shares")
    if not shares:
        return None
    figure, axis = plt.subplots(figsize=(6.5, 3))
    axis.barh(list(shares), [100 * s for s in shares.values()], color="tab:purple")
    axis.invert_yaxis()
    axis.set_xlabel("% of active samples (py-spy, all server threads)")
    axis.set_title(f"where the server's time goes at {run.service['profile']['concurrency']} clients")
    return save(figure, path)


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
                f"{number(level['chunk_throughput'], 1)} / {number(level_limit(level)[1], 1)} "
                f"({percent(ratio(level['chunk_throughput'], level_limit(level)[1]))})",
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
    "chunk audio s per s / limit (share)",
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
            "The server (bundled model, max_batch=8), uploads of 44.1 kHz mono 16-bit WAV in turn:\n\n"
            + table(["moment", "peak RSS (MiB)", "above ready (MiB)"], rows)
        )
    return "\n\n".join(parts)


def profile_section(run: Run) -> str:
    profiled = run.service.get("profile", {})
    if "shares" not in profiled:
        return f"No profile in this run: {profiled.get('error', 'not asked for')}."
    rows = [[stage, percent(share, 1)] for stage, share in profiled["shares"].items()]
    level = profiled["level"]
    return (
        f"py-spy (`record --nonblocking --rate 100`) on the server during {level['window_s']:.0f} s at "
        f"{profiled['concurrency']} clients (a separate level, so sampling does not touch the numbers above; "
        f"that level ran at {number(level['chunk_throughput'], 1)} chunk audio s per s). Shares are of the "
        "samples in which a server thread was active:\n\n" + table(["stage", "share"], rows)
    )


def findings(run: Run) -> str:
    """What limits the service, stated from this run's own measurements."""
    sat, busy = run.saturation, run.at_goal_clients
    one, full = min(run.limits), run.max_batch
    lines = []
    if full in run.limits:
        gain = run.limits[full] / run.limits[one]
        full_batch = full / gain  # how many times longer a full batch takes than one chunk
        effect = (
            "batching cannot raise throughput here; it only makes a chunk wait for its batch-mates"
            if gain < 1.25
            else f"batching raises throughput {gain:.2f}×"
        )
        lines.append(
            f"- **Batch size, in the model alone**: per chunk, batch {full} runs at {gain:.2f}× the speed of batch "
            f"{one} ({number(run.limits[full], 1)} vs {number(run.limits[one], 1)} chunk audio s per s), so a full "
            f"batch takes {full_batch:.1f}× as long as one chunk. On {run.machine['cores']} cores "
            f"({run.machine['torch_threads']} torch threads{', no GPU' if not run.machine['gpu'] else ''}), {effect}."
        )
    ceiling = 1 / run.chunk_per_audio
    lines += [
        f"- **Chunking adds {percent(run.chunk_per_audio - 1)} model work on this mix.** Every upload is cut into "
        f"{run.bundled['chunk_seconds']:g} s windows overlapping by {run.bundled['overlap_seconds']:g} s and the last "
        "one is zero-padded, so a 1 s clip costs a whole window: the model runs "
        f"{number(run.chunk_per_audio)} s of chunk audio per uploaded second, where the one-at-a-time baseline runs "
        f"each file once, unpadded. In uploaded audio the service can reach at most {percent(ceiling)} of the "
        f"limit; it reached {percent(ratio(sat['throughput'], run.limit))}.",
    ]
    best_batch, best = level_limit(sat)
    same_batch = limits_around(sat).get(full)
    cores = by_batch(run.bundled["limit_cpu_cores"])
    lines.append(
        f"- **At saturation** ({clients(sat['concurrency'])}, mean batch {number(sat['mean_batch'], 1)}) the service "
        f"ran the model at {percent(ratio(sat['chunk_throughput'], best))} of the tight loop's best (batch "
        f"{best_batch})"
        + (
            f" and {percent(ratio(sat['chunk_throughput'], same_batch))} of the tight loop at batch {full}, the size "
            "it actually ran: the first gap is the choice of max_batch on this machine, the second the service's "
            "own cost"
            if same_batch
            else ""
        )
        + f". The server used {number(sat['server_cpu_cores'])} of {run.machine['cores']} cores (the load generator "
        f"{number(sat['client_cpu_cores'])}); the tight loop keeps {number(max(cores.values()))} busy."
    )
    profiled = run.service.get("profile", {}).get("shares")
    if profiled:
        model = profiled.get("model forward", 0.0)
        others = sorted(((s, v) for s, v in profiled.items() if s != "model forward"), key=lambda sv: -sv[1])[:4]
        lines.append(
            f"- **Profile** (section 6): {percent(model, 1)} of the server's active samples are the model's forward "
            "pass; the service's own work is led by "
            + ", ".join(f"{s} ({percent(v, 1)})" for s, v in others)
            + ". It runs on the same cores as inference."
        )
    serial = level_at(run.serial, GOAL_CLIENTS)
    if busy and serial:
        lines.append(
            f"- **Batching on vs off at {busy['concurrency']} clients**: {number(busy['throughput'], 1)} vs "
            f"{number(serial['throughput'], 1)} uploaded audio s per s; p95 of 1-2 s clips "
            f"{number(busy['short_latency']['p95'])} vs {number(serial['short_latency']['p95'])} s."
        )
    if busy and run.short_alone and busy["short_latency"]["p95"]:
        lines.append(
            f"- **Short clips under load**: alone, a 1-2 s clip takes {number(run.short_alone, 3)} s (median); at "
            f"{busy['concurrency']} clients its p95 is {number(busy['short_latency']['p95'])} s "
            f"({busy['short_latency']['p95'] / run.short_alone:.1f}×). Round-robin serves one chunk of every queued "
            f"request per turn, so its one chunk waits behind one chunk of each of the other "
            f"{busy['concurrency'] - 1} requests, whatever the batch size."
        )
    return "\n".join(lines)


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
        f"**max_batch={run.max_batch}** (the default):",
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
    plots = {
        "overview": plot_overview(run, results_dir / "overview.png"),
        "limit": plot_limit(run, results_dir / "limit.png"),
        "service": plot_service(run, results_dir / "service.png"),
        "short": plot_short_latency(run, results_dir / "short-clips.png"),
        "batches": plot_batch_sizes(run, results_dir / "batch-sizes.png"),
        "embedding": plot_embedding(run, results_dir / "embedding.png"),
        "memory": plot_memory(run, results_dir / "memory.png"),
        "profile": plot_profile(run, results_dir / "profile.png"),
    }
    markdown.write_text(render(run, plots, markdown))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--markdown", type=Path, default=BENCHMARKS)
    args = parser.parse_args(argv)
    write(args.results, args.markdown)


if __name__ == "__main__":
    main()

"""The report's pictures: one function per plot, each from a `Run`, each saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from bench.analysis import (
    GOAL_CLIENTS,
    MIB,
    SHORT_P95_FACTOR,
    Run,
    by_batch,
    clients,
    level_at,
    level_limit,
    limits_around,
)

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend


def log2_axis(axis, ticks: list[int], label: str) -> None:
    """Batch sizes and client counts double from one point to the next: label the points themselves."""
    axis.set_xscale("log", base=2)
    axis.set_xticks(ticks, [str(t) for t in ticks])
    axis.minorticks_off()
    axis.set_xlabel(label)


def configurations(run: Run) -> list[tuple[str, list[dict], str, str]]:
    """(label, levels, line style, colour) of each server configuration that ran."""
    both = [
        ("defaults", run.batched, "o-", "tab:blue"),
        ("compiled", run.compiled, "s--", "tab:green"),
    ]
    return [configuration for configuration in both if configuration[1]]


def clients_of(run: Run) -> list[int]:
    return sorted({level["concurrency"] for level in run.batched + run.compiled})


def save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_overview(run: Run, path: Path) -> Path:
    """One picture of the issue's question: the service between the baseline and the limit."""
    bars = [("the library one at a time (baseline)", run.baseline, "tab:gray")]
    for label, levels in (("service", run.batched), ("service, compiled", run.compiled)):
        busy = level_at(levels, GOAL_CLIENTS)
        if busy:
            bars.append((f"{label}, {clients(busy['concurrency'])}", busy["throughput"], "tab:blue"))
    saturation = run.saturation
    bars.append((f"service at saturation ({clients(saturation['concurrency'])})", saturation["throughput"], "tab:blue"))
    figure, axis = plt.subplots(figsize=(8, 3.8))
    labels, values, colours = zip(*bars)
    axis.barh(labels, values, color=colours)
    axis.axvline(run.limit, color="tab:red", linestyle="--", label="the model alone, best configuration (eager)")
    axis.axvline(
        run.limit / run.chunk_per_audio,
        color="tab:orange",
        linestyle=":",
        label="the same after this mix's chunk overlap",
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
        axis.axhline(
            model["baseline"]["throughput"], color="tab:gray", linestyle="--", label="the library one at a time"
        )
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
        left.plot(
            counts, limits, ":", color=colour, label=f"{label}: the model alone (best configuration) around each level"
        )
        same = [limits_around(level).get(level["max_batch"]) for level in levels]
        if same != limits:
            batch = levels[0]["max_batch"]
            left.plot(counts, same, "-.", color=colour, alpha=0.6, label=f"{label}: model alone at batch {batch}")
    left.axhline(run.baseline, color="tab:gray", linestyle="--", label="the library one at a time")
    for axis in (left, right):
        log2_axis(axis, clients_of(run), "concurrent clients")
    left.set_ylim(bottom=0)
    left.set_ylabel("audio seconds per second")
    left.set_title("throughput")
    right.set_yscale("log")
    right.set_ylabel("latency (s)")
    right.set_title("latency, all clips")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
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
    left.set_xlabel("batch size (chunks)")
    left.set_ylabel("peak RSS (MiB)")
    left.set_title("by batch size")
    left.legend(fontsize=8)
    for key, label, style in (
        ("chunked", "fixed windows, bounded batches", "o-"),
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


def draw_all(run: Run, directory: Path) -> dict[str, Path | None]:
    """Every plot of the report, by name; None where the run has no data for it."""
    return {
        "overview": plot_overview(run, directory / "overview.png"),
        "limit": plot_limit(run, directory / "limit.png"),
        "service": plot_service(run, directory / "service.png"),
        "short": plot_short_latency(run, directory / "short-clips.png"),
        "batches": plot_batch_sizes(run, directory / "batch-sizes.png"),
        "embedding": plot_embedding(run, directory / "embedding.png"),
        "memory": plot_memory(run, directory / "memory.png"),
        "profile": plot_profile(run, directory / "profile.png"),
    }

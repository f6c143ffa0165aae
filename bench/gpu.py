"""The GPU measurements, ready to run in one call: `make bench-gpu` (`python -m bench --gpu`).

On a CUDA machine, in under 8 minutes, it reports:
- the model alone (`model.network.Network`, the service's forward pass) for `audiosep-base` and
  `bundled-small`: chunk audio seconds per second by batch size in float32, bfloat16 and float16,
  with the peak GPU memory of each;
- bfloat16's and float16's agreement with float32 on the same weights and input (error energy in
  dB; the goal is -35 dB or less): the bundled model's real weights, audiosep-base's random ones;
- torch.compile and CUDA graphs (compile mode `reduce-overhead`) beside eager, at one batch size;
- the service (a real server, TEXTSEP_DEVICE=cuda, bfloat16, its defaults otherwise: one instance per
  GPU, max_batch measured) at 1, 16 and 64 clients against the model alone at the batch it ran,
  serving a network of audiosep-base's layout (random weights, conditioned on MiniLM's 384-d
  queries so that it loads as a project checkpoint: speed does not depend on the weights).
It writes `bench/results/gpu.json` and `bench/results/gpu.md` (the tables, for BENCHMARKS.md).

`--dry-run` runs the same code on whatever device there is (a CPU in the test suite) with tiny
sizes and no compilation: it proves the script works, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bench import load
from bench.analysis import clients
from bench.machine import machine
from bench.report import RESULTS_DIR, table
from bench.server import REPO, BenchServer
from bench.workload import clip_mix
from model.checkpoint import save_checkpoint
from model.network import Network
from model.resunet import PRESETS, ResUNet
from model.separator import Separator

EXAMPLE = REPO / "examples/speech-and-piano.wav"
AGREEMENT_GOAL_DB = -35.0


@dataclass(frozen=True)
class GpuPlan:
    batch_sizes: dict[str, tuple[int, ...]]  # preset -> batch sizes to time
    chunk_seconds: dict[str, float]  # preset -> window (the service's own for each)
    dtypes: tuple[str, ...]
    repeats: int  # timed passes per point (median), after one untimed
    compiled_batch: dict[str, int] = field(default_factory=dict)  # preset -> batch for the compile variants
    levels: tuple[tuple[int, float, float], ...] = ()  # (clients, warm-up s, window s)
    clips: int = 48


FULL = GpuPlan(
    batch_sizes={"audiosep-base": (1, 4, 16, 32, 64), "bundled-small": (1, 16, 64, 128, 256)},
    chunk_seconds={"audiosep-base": 9.92, "bundled-small": 8.192},
    dtypes=("float32", "bfloat16", "float16"),
    repeats=5,
    compiled_batch={"audiosep-base": 32, "bundled-small": 128},
    levels=((1, 5, 20), (16, 15, 30), (64, 15, 30)),
)
DRY = GpuPlan(
    batch_sizes={"audiosep-base": (1,), "bundled-small": (1, 2)},
    chunk_seconds={"audiosep-base": 0.5, "bundled-small": 1.024},
    dtypes=("float32", "bfloat16"),
    repeats=1,
    levels=((1, 1, 2),),
    clips=4,
)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def speed(network: Network, batch: int, length: int, repeats: int) -> dict:
    """Chunk audio s per s (median of `repeats` passes after one untimed) and peak GPU memory."""
    device = network.device
    chunks = 0.1 * torch.randn(batch, length, device=device)
    conditions = torch.nn.functional.normalize(torch.randn(batch, network.config.condition_size, device=device), dim=1)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    network(chunks, conditions)
    times = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        network(chunks, conditions)
        synchronize(device)
        times.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "audio_per_second": batch * length / network.config.sample_rate / float(np.median(times)),
        "peak_gpu_bytes": peak,
    }


def model_alone(plan: GpuPlan, device: torch.device) -> list[dict]:
    rows = []
    for preset, sizes in plan.batch_sizes.items():
        model = ResUNet.from_preset(preset)
        length = round(plan.chunk_seconds[preset] * model.config.sample_rate)
        for dtype in plan.dtypes:
            network = Network(model, device, dtype)
            for batch in sizes:
                try:
                    rows.append(
                        {
                            "preset": preset,
                            "dtype": dtype,
                            "batch": batch,
                            **speed(network, batch, length, plan.repeats),
                        }
                    )
                except torch.OutOfMemoryError:
                    rows.append(
                        {
                            "preset": preset,
                            "dtype": dtype,
                            "batch": batch,
                            "audio_per_second": None,
                            "peak_gpu_bytes": None,
                            "error": "out of memory",
                        }
                    )
                    torch.cuda.empty_cache()
                    break
    return rows


def error_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    return float(10 * torch.log10(((other - reference) ** 2).sum() / (reference**2).sum()))


def agreement(plan: GpuPlan, device: torch.device) -> list[dict]:
    """Each lower precision against float32, same weights, same input."""
    samples, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    bundled = Separator.from_pretrained("bundled", device="cpu")
    example = torch.from_numpy(samples[:, 0])
    cases = {
        "bundled-small (real weights, the example recording)": (bundled.model, bundled.embed(["a man speaking"]), rate),
        "audiosep-base (random weights, noise)": (ResUNet.from_preset("audiosep-base"), None, None),
    }
    rows = []
    for name, (model, condition, rate_in) in cases.items():
        config = model.config
        if rate_in is None:
            chunk = 0.1 * torch.randn(1, round(plan.chunk_seconds["audiosep-base"] * config.sample_rate))
            condition = torch.nn.functional.normalize(torch.randn(1, config.condition_size), dim=1)
        else:
            from model.plan import resample

            chunk = torch.from_numpy(resample(example[None].numpy(), rate_in, config.sample_rate))
        reference = Network(model, device, "float32")(chunk, condition).cpu()
        for dtype in plan.dtypes:
            if dtype != "float32":
                other = Network(model, device, dtype)(chunk, condition).cpu()
                rows.append({"case": name, "dtype": dtype, "error_db": error_db(reference, other)})
    return rows


def compiled_variants(plan: GpuPlan, device: torch.device) -> list[dict]:
    """Eager, torch.compile, and CUDA graphs (reduce-overhead) at one batch size, bfloat16."""
    rows = []
    for preset, batch in plan.compiled_batch.items():
        model = ResUNet.from_preset(preset)
        length = round(plan.chunk_seconds[preset] * model.config.sample_rate)
        variants = {"eager": {}, "torch.compile": {"compile": True}}
        if device.type == "cuda":
            variants["CUDA graphs (reduce-overhead)"] = {"compile": True, "compile_mode": "reduce-overhead"}
        for name, options in variants.items():
            started = time.perf_counter()
            network = Network(model, device, "bfloat16", **options)
            network(
                0.1 * torch.randn(batch, length, device=device),
                torch.zeros(batch, model.config.condition_size, device=device),
            )
            first = time.perf_counter() - started
            rows.append(
                {
                    "preset": preset,
                    "variant": name,
                    "batch": batch,
                    "first_call_s": first,
                    **speed(network, batch, length, plan.repeats),
                }
            )
    return rows


def service(plan: GpuPlan, device: torch.device, dtype: str, work: Path) -> dict:
    """The service on this device, at each level against the model alone at the batch it ran."""
    config = PRESETS["audiosep-base"]
    stand_in = ResUNet(type(config)(**{**asdict(config), "condition_size": 384}))  # MiniLM's queries
    checkpoint = work / "audiosep-layout.pt"
    chunk = plan.chunk_seconds["audiosep-base"]
    save_checkpoint(
        checkpoint, stand_in, text_encoder="all-minilm-l6-v2", chunk_seconds=chunk, overlap_seconds=min(1.0, chunk / 4)
    )
    clips = clip_mix(plan.clips)
    settings = {"TEXTSEP_MODEL": str(checkpoint), "TEXTSEP_DEVICE": str(device), "TEXTSEP_DTYPE": dtype}
    with BenchServer(**settings) as server:
        info = server.info()
        max_batch = info["batching"]["max_batch"]
        network = Network(stand_in, device, dtype)
        length = round(info["batching"]["chunk_seconds"] * config.sample_rate)
        levels = []
        for concurrency, warmup, window in plan.levels:
            summary = load.run_level(server.url, server.process.pid, clips, concurrency, warmup, window)
            alone = speed(network, max_batch, length, plan.repeats)["audio_per_second"]  # the server is idle now
            levels.append({**summary, "model_alone_at_max_batch": alone})
    return {"max_batch": max_batch, "instances": info["instances"], "dtype": dtype, "levels": levels}


def records_table(records: list[dict], columns: dict) -> str:
    """A markdown table, one row per record: {header: record -> cell text}."""
    return table(list(columns), [[cell(record) for cell in columns.values()] for record in records])


def figure(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(results: dict) -> str:
    m, served = results["machine"], results["service"]
    lines = [
        f"GPU measurements (`python -m bench --gpu`{' --dry-run' if results['dry_run'] else ''}), "
        f"{results['date']}, on {results['device']} ({m['gpu'] or m['cpu']}), torch {m['torch']}"
        + (": a dry run, the numbers mean nothing." if results["dry_run"] else "."),
        "",
        "Model alone (chunk audio s per s; peak GPU memory):",
        "",
        records_table(
            results["model_alone"],
            {
                "model": lambda r: r["preset"],
                "dtype": lambda r: r["dtype"],
                "batch": lambda r: str(r["batch"]),
                "chunk audio s per s": lambda r: r.get("error") or figure(r["audio_per_second"]),
                "peak GPU MiB": lambda r: figure(r["peak_gpu_bytes"] and r["peak_gpu_bytes"] / 2**20, 0),
            },
        ),
        "",
        f"Agreement with float32 (error energy; goal {AGREEMENT_GOAL_DB:g} dB or less):",
        "",
        records_table(
            results["agreement"],
            {
                "case": lambda r: r["case"],
                "dtype": lambda r: r["dtype"],
                "dB": lambda r: figure(r["error_db"]),
            },
        ),
    ]
    if results["compiled"]:
        lines += [
            "",
            "Compiled variants (bfloat16):",
            "",
            records_table(
                results["compiled"],
                {
                    "model": lambda r: r["preset"],
                    "variant": lambda r: r["variant"],
                    "batch": lambda r: str(r["batch"]),
                    "first call (s)": lambda r: figure(r["first_call_s"]),
                    "chunk audio s per s": lambda r: figure(r["audio_per_second"]),
                },
            ),
        ]
    heading = (
        f"The service ({served['dtype']}, {served['instances']['count']} instance(s), max_batch "
        f"{served['max_batch']}; audiosep-base layout) against the model alone at that batch:"
    )
    lines += ["", heading, "",
              records_table(served["levels"], {
                  "clients": lambda r: clients(r["concurrency"]),
                  "audio s per s": lambda r: figure(r["throughput"]),
                  "chunk audio s per s": lambda r: figure(r["chunk_throughput"]),
                  "model alone at max_batch": lambda r: figure(r["model_alone_at_max_batch"]),
                  "service / model alone": lambda r: f"{r['chunk_throughput'] / r['model_alone_at_max_batch']:.0%}",
                  "p95 latency (s)": lambda r: figure(r["latency"]["p95"], 2),
              })]  # fmt: skip
    return "\n".join(lines) + "\n"


def run(plan: GpuPlan, dry_run: bool) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not dry_run:
        raise SystemExit("no CUDA device: run on a GPU machine, or pass --dry-run to check the script on this one")
    dtypes = plan.dtypes if device.type == "cuda" else tuple(d for d in plan.dtypes if d != "float16")
    plan = GpuPlan(**{**asdict(plan), "dtypes": dtypes})
    started = time.monotonic()
    results = {
        "machine": machine(),
        "device": str(device),
        "dry_run": dry_run,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "plan": asdict(plan),
    }
    results["model_alone"] = model_alone(plan, device)
    results["agreement"] = agreement(plan, device)
    results["compiled"] = compiled_variants(plan, device)
    with tempfile.TemporaryDirectory(prefix="textsep-bench-gpu-") as work:
        results["service"] = service(plan, device, "bfloat16" if device.type == "cuda" else "float32", Path(work))
    results["duration_s"] = time.monotonic() - started
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on whatever device there is")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    results = run(DRY if args.dry_run else FULL, args.dry_run)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "gpu.json").write_text(json.dumps(results, indent=1))
    (args.results / "gpu.md").write_text(markdown(results))
    print(markdown(results), flush=True)
    print(f"done in {results['duration_s'] / 60:.1f} min: {args.results / 'gpu.md'}")


if __name__ == "__main__":
    main()

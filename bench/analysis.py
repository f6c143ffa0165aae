"""The numbers behind the report: one run's results, the quantities derived from them, the goals.

Every service level is compared with the model alone measured in a tight loop right before and right
after it (the machine drifts over a run), at the best batch size that level's server could form.
"""

from __future__ import annotations

MIB = 2**20

# The targets.
SATURATION_SHARE = 0.9  # service throughput at saturation / the best model-alone configuration
SPEEDUP_AT_16 = 1.5  # service throughput at 16 clients / the library one file at a time
SHORT_P95_FACTOR = 3.0  # p95 latency of 1-2 s clips at 16 clients / their time alone
MODEL_WORK = 1.15  # chunk audio the model runs per uploaded second of the mix
UPLOAD_GROWTH_MB = 250  # peak RSS growth of the server for a 10-minute 44.1 kHz stereo upload
CACHED_EMBED_SHARE = 0.01  # a cached query embedding / a request's time
GPU_SERVICE = 3000  # audiosep-base service on one H100 in bf16, audio s per s
GOAL_CLIENTS = 16
MB = 1e6


def duration(seconds: float) -> str:
    return f"{seconds / 60:g}-minute" if seconds >= 60 else f"{seconds:g} s"


def clients(count: int) -> str:
    return f"{count} client{'s' if count != 1 else ''}"


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
        self.compiled = self.service.get("compiled", {}).get("levels", [])
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

    @property
    def upload_growth(self) -> tuple[float, float] | None:
        """(seconds, bytes): the longest upload of the memory run and the server's peak RSS growth for it."""
        server = self.service.get("memory", {})
        longest = max((float(k) for k in server), default=0)
        return (longest, server[f"{longest:g}"] - server["0"]) if longest else None

    def goals(self) -> list[dict]:
        busy = self.at_goal_clients or {}
        count = busy.get("concurrency", GOAL_CLIENTS)
        sat = self.saturation
        growth = self.upload_growth
        compiled_sat = max(self.compiled, key=lambda level: level["concurrency"]) if self.compiled else {}
        rows = [
            goal(
                f"service throughput at {count} clients / the library one file at a time, as a user calls it "
                "(uploaded audio)",
                ratio(busy.get("throughput"), self.baseline),
                SPEEDUP_AT_16,
                "times",
            ),
            goal(
                f"service throughput at saturation ({sat['concurrency']} clients) / the best model-alone "
                f"configuration (instances x threads x batch, batch {level_limit(sat)[0]}), measured around it; "
                "chunk audio",
                ratio(sat["chunk_throughput"], self.limit),
                SATURATION_SHARE,
                "percent",
            ),
            goal(
                f"p95 latency of 1-2 s clips at {count} clients / their median latency alone",
                ratio((busy.get("short_latency") or {}).get("p95"), self.short_alone),
                SHORT_P95_FACTOR,
                "times",
                lower_is_better=True,
            ),
            goal(
                "model work per uploaded second of the mix (chunk audio / uploaded audio)",
                self.chunk_per_audio,
                MODEL_WORK,
                "number",
                lower_is_better=True,
            ),
            goal(
                f"peak RSS growth of the server for a {duration(growth[0])} 44.1 kHz stereo upload"
                if growth
                else "peak RSS growth of the server for a 10-minute 44.1 kHz stereo upload",
                growth[1] / MB if growth else None,
                UPLOAD_GROWTH_MB,
                "MB",
                lower_is_better=True,
            ),
            goal(
                f"compiled service at saturation ({compiled_sat.get('concurrency', '–')} clients) / eager, "
                "uploaded audio (no target: what compiling buys)",
                ratio(compiled_sat.get("throughput"), sat["throughput"]),
                None,
                "times",
            ),
            goal("GPU: audiosep-base service on one H100 in bf16 (audio s per s)", None, GPU_SERVICE, "number"),
            goal("GPU: service / the model alone at the same batch", None, SATURATION_SHARE, "percent"),
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


def goal(name: str, value: float | None, target: float | None, unit: str, lower_is_better: bool = False) -> dict:
    met = None if value is None or target is None else (value <= target if lower_is_better else value >= target)
    return {"goal": name, "value": value, "target": target, "unit": unit, "lower": lower_is_better, "met": met}

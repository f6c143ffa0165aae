"""A real `python -m service serve` on loopback, for the load benchmarks to talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 600  # loading and warm-up on two busy cores can take a while; compiling, minutes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BenchServer:
    """`with BenchServer(TEXTSEP_MAX_BATCH="1") as server:` starts a server, waits for /readyz,
    and stops it (SIGTERM, then kill) on the way out."""

    def __init__(self, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.log = Path(tempfile.mkstemp(prefix="textsep-bench-", suffix=".log")[1])
        # Every query of the workload is served (none refused as unknown): the bench measures separation.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PORT": str(self.port), "TEXTSEP_HOST": "127.0.0.1",
               "TEXTSEP_UNKNOWN_QUERY_THRESHOLD": "off", **settings}  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> BenchServer:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:  # not listening yet
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def info(self) -> dict:
        """/v1/info: among the rest, the batch size and the instances the server runs (what `auto` chose)."""
        return httpx.get(self.url + "/v1/info", timeout=30).json()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.unlink(missing_ok=True)

    def __enter__(self) -> BenchServer:
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *error) -> None:
        self.stop()


Samples = dict[str, dict[tuple, float]]  # metric sample name -> {sorted label items: value}


def parse_metrics(text: str) -> Samples:
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def batch_size_counts(before: Samples, after: Samples) -> dict[int, int]:
    """{batch size: forward passes} between two scrapes, from the cumulative `le` buckets."""

    def cumulative(samples: Samples) -> dict[int, float]:
        buckets = samples.get("textsep_batch_size_bucket", {})
        return {int(float(dict(labels)["le"])): v for labels, v in buckets.items() if dict(labels)["le"] != "+Inf"}

    start, end = cumulative(before), cumulative(after)
    counts, below = {}, 0.0
    for size in sorted(end):
        passes = end[size] - start.get(size, 0.0)
        counts[size] = round(passes - below)
        below = passes
    return counts

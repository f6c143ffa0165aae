"""A real `python -m service serve` process on loopback, and small HTTP helpers, for the tests."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
# The tests' uploads are sine tones and noise, queried by what they are ("a humming tone"): sounds
# the bundled model's vocabulary does not hold. Refusing unknown queries is tested on its own
# (test_vocabulary.py), with the model's threshold; everywhere else it is off unless a test says.
TEST_DEFAULTS = {"TEXTSEP_UNKNOWN_QUERY_THRESHOLD": "off"}
STARTUP_TIMEOUT_S = 240  # two cores shared with other work: loading and warm-up can be slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A `python -m service serve` subprocess; `readiness` is every /readyz answer seen while starting."""

    def __init__(self, log_dir: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"server-{self.port}.log"
        env = {**os.environ, **TEST_DEFAULTS, "HF_HUB_OFFLINE": "1", "PORT": str(self.port), "TEXTSEP_HOST": "127.0.0.1",
               **settings}  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.readiness: list[tuple[int, str]] = []

    def wait_ready(self) -> Server:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                answer = httpx.get(self.url + "/readyz", timeout=5)
            except httpx.TransportError:  # not listening yet
                time.sleep(0.05)
                continue
            self.readiness.append((answer.status_code, answer.json()["status"]))
            if answer.status_code == 200:
                return self
            time.sleep(0.01)  # often enough to see a short warm-up
        self.process.kill()
        pytest.fail(f"server not ready after {STARTUP_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def metric(self, name: str, **labels: str) -> float:
        """A sample's value (0 for a labelled series not created yet)."""
        text = httpx.get(self.url + "/metrics").text
        assert name in text, f"no metric {name}"
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *error) -> None:
        self.process.kill()  # a failed test must not leave a server behind; no-op once it has exited
        self.process.wait()


@contextlib.contextmanager
def all_ready(started: dict[str, Server]) -> Iterator[dict[str, Server]]:
    """Servers started together (their loading overlaps), once all are ready; each must exit 0 on
    the SIGTERM that stops it at the end."""
    exit_codes = {}
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        exit_codes = {name: server.stop() for name, server in started.items()}
    assert set(exit_codes.values()) == {0}, exit_codes


def wait_until(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def separate(url: str, upload: bytes, query: str, timeout: float = 120, **options) -> httpx.Response:
    return httpx.post(
        url + "/separate", files={"file": ("upload", upload)}, data={"query": query, **options}, timeout=timeout
    )


def read(answer: httpx.Response) -> tuple[np.ndarray, int, str]:
    samples, rate = sf.read(io.BytesIO(answer.content), dtype="float32", always_2d=True)
    return samples, rate, sf.info(io.BytesIO(answer.content)).subtype

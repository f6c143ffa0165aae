"""The load-balanced deployment, for real on loopback: docker/cluster.py starts replicas (`python -m
service serve`) behind Debian's nginx running docker/nginx.conf, and clients go through nginx while
replicas are stopped, killed, or never get ready. Every load loop is bounded in count and time.

The tests share one cluster and run in file order, each taking replicas away: 3 replicas for the
spread, SIGTERM to one, SIGKILL to another, then the last one serves alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docker"))  # docker/ holds scripts, not a package
from cluster import Cluster, Replica
from live import TEST_DEFAULTS

from service.settings import Settings

# Small and quick on a CPU: 2 s chunks, batches of 2, 4 s clips (3 chunks).
REPLICA_SETTINGS = {**TEST_DEFAULTS, "TEXTSEP_MAX_BATCH": "2", "TEXTSEP_CHUNK_SECONDS": "2", "TEXTSEP_OVERLAP_SECONDS": "0.25"}
CLIP_SECONDS = 4
LOAD_CLIENTS = 4
LOAD_MAX_SECONDS = 60  # no load loop runs longer, whatever happens
AFTER_FAILURE = 24  # answers collected after a replica is gone, so traffic has to route around it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three replicas behind nginx, and a fourth whose model cannot load: it runs and answers
    (/readyz 503 "failed: ..."), but never becomes ready."""
    log_dir = tmp_path_factory.mktemp("cluster")
    broken_model = log_dir / "broken.pt"
    broken_model.write_bytes(b"not a checkpoint")
    running = Cluster(log_dir, env=REPLICA_SETTINGS)
    try:
        for _ in range(3):
            running.add_replica()
        running.add_replica(TEXTSEP_MODEL=str(broken_model))
        running.wait_joined(3)
        yield running
    finally:
        exits = running.stop()
    assert None not in exits.values(), f"replicas that did not stop: {exits}"


@pytest.fixture(scope="module")
def upload(audio_file) -> bytes:
    return audio_file(CLIP_SECONDS, 16000)


def alive(cluster: Cluster) -> list[Replica]:
    return [replica for replica in cluster.upstream if replica.process.poll() is None]


def scrape(replica: Replica) -> str:
    return httpx.get(replica.url + "/metrics", timeout=10).text


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def separated(replica: Replica) -> float:
    """/separate requests the replica answered, any status."""
    return metric(scrape(replica), "textsep_requests_total", route="/separate")


def busy(replica: Replica) -> str:
    """The replica's metrics, read at a moment it has requests in its batcher."""
    deadline = time.monotonic() + 30
    while metric(text := scrape(replica), "textsep_batcher_requests") == 0:
        assert time.monotonic() < deadline, "the replica got no work"
    return text


def wait_until(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Load:
    """`clients` threads posting /separate through nginx back to back, each request with its own
    X-Request-ID (`tag-client-n`), until `total` answers, `stop()` or LOAD_MAX_SECONDS.
    `outcomes` maps request ID to the status code, or to the transport error a client saw."""

    def __init__(self, url: str, upload: bytes, tag: str, clients: int = LOAD_CLIENTS, total: int = 10_000):
        self.tag = tag
        self.outcomes: dict[str, int | str] = {}
        self.echoed_ids = True
        self._total = total
        self._sent = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._deadline = time.monotonic() + LOAD_MAX_SECONDS
        self._threads = [
            threading.Thread(target=self._client, args=(url, upload, f"{tag}-{client}")) for client in range(clients)
        ]

    def _client(self, url: str, upload: bytes, prefix: str) -> None:
        with httpx.Client(timeout=60) as client:
            for n in range(self._total):
                with self._lock:
                    if self._stopped.is_set() or self._sent >= self._total or time.monotonic() > self._deadline:
                        return
                    self._sent += 1
                request_id = f"{prefix}-{n}"
                try:
                    answer = client.post(
                        url + "/separate",
                        files={"file": ("clip.wav", upload)},
                        data={"query": "a humming tone"},
                        headers={"X-Request-ID": request_id},
                    )
                    self.outcomes[request_id] = answer.status_code
                    self.echoed_ids &= answer.headers.get("x-request-id") == request_id
                except httpx.TransportError as error:
                    self.outcomes[request_id] = type(error).__name__

    def wait_for(self, answers: int) -> None:
        wait_until(lambda: len(self.outcomes) >= answers or not any(t.is_alive() for t in self._threads), 60)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *error) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join()

    def errors(self) -> dict[str, int | str]:
        return {request_id: outcome for request_id, outcome in self.outcomes.items() if outcome != 200}

    def retried(self, cluster: Cluster) -> list[dict]:
        """nginx's log entries of this load's requests that it sent to more than one replica."""
        entries = [json.loads(line) for line in cluster.access_log.read_text().splitlines()]
        return [e for e in entries if e["request_id"].startswith(self.tag + "-") and "," in e["upstream_addr"]]

    def report(self, cluster: Cluster, what: str) -> None:
        retried = self.retried(cluster)
        retried_on = sorted({e["upstream_status"] for e in retried})
        print(
            f"\n{what}: {len(self.outcomes)} requests, {len(self.errors())} errors seen by clients, "
            f"{len(retried)} retried by nginx (upstream statuses {retried_on})"
        )


# ---- the tests, in order ------------------------------------------------------------------------


def test_requests_spread_over_all_ready_replicas(cluster, upload):
    replicas = alive(cluster)
    assert len(replicas) == 3
    before = [separated(replica) for replica in replicas]
    with Load(cluster.url, upload, "spread", clients=3, total=30) as load:
        load.wait_for(30)
    served = [separated(replica) - start for replica, start in zip(replicas, before)]
    print(f"\n{len(load.outcomes)} requests through nginx, served per replica: {served}")
    assert load.errors() == {} and load.echoed_ids
    assert sum(served) == len(load.outcomes) == 30
    assert min(served) >= 5, f"uneven spread: {served}"


def test_a_replica_that_is_not_ready_gets_no_traffic(cluster, upload):
    (broken,) = [replica for replica in cluster.replicas if replica not in cluster.upstream]
    readiness = httpx.get(broken.url + "/readyz")
    assert readiness.status_code == 503 and readiness.json()["status"].startswith("failed")
    with Load(cluster.url, upload, "not-ready", total=20) as load:
        load.wait_for(20)
    assert load.errors() == {}
    assert separated(broken) == 0
    assert metric(scrape(broken), "textsep_requests_total", route="/readyz") > 0  # up, and asked all along


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_images_health_probe(cluster, path):
    """docker/probe.py, the image's HEALTHCHECK and compose's readiness check, on a ready replica
    and on the one whose model failed to load."""
    ready = alive(cluster)[0]
    (broken,) = [replica for replica in cluster.replicas if replica not in cluster.upstream]
    for replica, expected in [(ready, 0), (broken, 1)]:
        probe = subprocess.run(
            [sys.executable, str(REPO / "docker" / "probe.py"), path],
            env={**os.environ, "TEXTSEP_PORT": str(replica.port)},
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == expected, probe.stderr


def test_nginx_answers_an_upload_over_the_limit_with_the_services_error(cluster):
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=10) as connection:
        connection.sendall(
            b"POST /separate HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: %d\r\n\r\n" % (Settings().max_upload_bytes + 1)
        )
        answer = connection.recv(65536).decode()
    head, body = answer.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 413") and "application/json" in head
    assert json.loads(body)["error"]["code"] == "upload_too_large"


@pytest.mark.parametrize("sent", [None, "not plain!"])
def test_nginx_makes_the_request_id_when_the_client_sends_none_it_can_use(cluster, sent):
    answer = httpx.get(cluster.url + "/healthz", headers={"X-Request-ID": sent} if sent else {})
    request_id = answer.headers["x-request-id"]
    assert request_id != sent and len(request_id) == 32

    def logged() -> list[str]:
        return [json.loads(line)["request_id"] for line in cluster.access_log.read_text().splitlines()]

    wait_until(lambda: request_id in logged())  # nginx's $request_id, passed to the replica and echoed back


def answered_separations(log: str) -> int:
    """/separate requests answered 200, from a replica's log (JSON access lines among plain ones)."""
    lines = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return sum(line.get("route") == "/separate" and line.get("status") == 200 for line in lines)


def test_sigterm_to_a_replica_under_load_loses_no_request(cluster, upload):
    victim = alive(cluster)[0]
    with Load(cluster.url, upload, "sigterm") as load:
        answered = metric(busy(victim), "textsep_requests_total", route="/separate", status="200")
        assert victim.stop() == 0  # SIGTERM: it drains, then exits
        load.wait_for(len(load.outcomes) + AFTER_FAILURE)
    # Answered by the victim itself after SIGTERM (its JSON access log has every answer), not retried elsewhere.
    drained = answered_separations(victim.log.read_text()) - answered
    load.report(cluster, f"SIGTERM ({drained:.0f} in-flight requests drained)")
    assert load.errors() == {}
    assert drained >= 1


def test_sigkill_to_a_replica_under_load_is_absorbed_by_retries(cluster, upload):
    victim = alive(cluster)[0]
    with Load(cluster.url, upload, "sigkill") as load:
        busy(victim)
        victim.process.send_signal(signal.SIGKILL)
        assert victim.process.wait(timeout=10) == -signal.SIGKILL
        load.wait_for(len(load.outcomes) + AFTER_FAILURE)
    load.report(cluster, "SIGKILL")
    assert load.errors() == {}
    assert load.retried(cluster), "the killed replica's requests were not retried elsewhere"


def test_the_cluster_serves_with_one_replica_left(cluster, upload):
    survivor, *others = alive(cluster)
    for replica in others:  # none when the tests run in order
        replica.process.kill()
        replica.process.wait()
    before = separated(survivor)
    with Load(cluster.url, upload, "last-one", total=12) as load:
        load.wait_for(12)
    assert load.errors() == {} and len(load.outcomes) == 12
    assert separated(survivor) - before == 12

"""Overload, slow and vanishing clients, and a bounded soak, against live servers; the server
process is watched from /proc (RSS, threads, open files). The longer soak is `python -m bench.soak`."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest
from live import Server, separate, wait_until

from bench.soak import audio_bytes, overload, soak

# About three 30 s uploads (8 chunks of 4.1 s each): more than the soak ever queues, so only
# the overload test fills it.
MAX_QUEUE_SECONDS = 120
UPLOAD_TIMEOUT_S = 3
REQUEST_TIMEOUT_S = 2
POOL_SLACK = 8


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """`main` for everything but the request timeout; `impatient` answers nothing that takes over 2 s.
    Both start together, so their loading overlaps."""
    log_dir = tmp_path_factory.mktemp("soak")
    with (
        Server(
            log_dir,
            TEXTSEP_MAX_BATCH="2",
            TEXTSEP_MAX_QUEUE_SECONDS=str(MAX_QUEUE_SECONDS),
            TEXTSEP_UPLOAD_TIMEOUT_S=str(UPLOAD_TIMEOUT_S),
        ) as main,
        Server(log_dir, TEXTSEP_MAX_BATCH="1", TEXTSEP_REQUEST_TIMEOUT_S=str(REQUEST_TIMEOUT_S)) as impatient,
    ):
        yield {"main": main.wait_ready(), "impatient": impatient.wait_ready()}


@pytest.fixture(scope="module")
def server(servers) -> Server:
    return servers["main"]


def raw_upload(server: Server, size: int) -> tuple[bytes, bytes]:
    """The head and body of a /separate request for `size` bytes of upload, to send by hand."""
    request = httpx.Request(
        "POST", server.url + "/separate", files={"file": ("a.wav", b"\0" * size)}, data={"query": "a hum"}
    )
    head = "POST /separate HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return head.encode() + b"\r\n", request.read()


def test_twice_the_load_it_can_serve_is_shed_with_503_and_retry_after(server):
    clip = audio_bytes(np.random.default_rng(0), 30.0, 16000, 1, "WAV")
    # four times the one-at-a-time rate: at least twice what the server serves, even when batching or a
    # quieter machine lets it serve more than the one-at-a-time rate measured before (seen: 1.5x)
    result = asyncio.run(overload(server.url, server.process.pid, clip, seconds=15.0, factor=4.0))
    summary = result.summary()
    print("overload:", json.dumps(summary))
    assert set(result.statuses) == {200, 503}, result.statuses
    assert summary["offered_over_served"] >= 2
    assert min(result.retry_after) >= 1
    assert result.valid_answers == result.statuses[200]  # every accepted request completed, in full
    assert summary["served_per_s"] > result.capacity / 3  # shedding kept the server serving
    assert result.max_queue_seconds <= MAX_QUEUE_SECONDS  # the queue stayed bounded
    assert summary["peak_rss_growth_mib"] < 300
    assert httpx.get(server.url + "/readyz").status_code == 200


def test_a_trickling_upload_is_cut_off_and_holds_no_one_up(server, audio_file):
    head, body = raw_upload(server, 200_000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head)
        started = time.monotonic()
        stop = threading.Event()

        def trickle() -> None:  # a byte every 50 ms: 200 KB would take hours
            for byte in body:
                if stop.wait(0.05):
                    return
                connection.sendall(bytes([byte]))

        trickler = threading.Thread(target=trickle)
        trickler.start()
        try:
            assert separate(server.url, audio_file(1.0, 16000), "a hum").status_code == 200  # meanwhile
            answer = b""
            while received := connection.recv(65536):  # the server hangs up after its answer
                answer += received
            waited = time.monotonic() - started
        finally:
            stop.set()
            trickler.join()
    assert answer.startswith(b"HTTP/1.1 408") and b'"upload_timeout"' in answer, answer
    assert UPLOAD_TIMEOUT_S <= waited < UPLOAD_TIMEOUT_S + 5


def test_a_client_gone_mid_upload_leaves_nothing_behind(server):
    head, body = raw_upload(server, 1_000_000)
    gone = server.metric("textsep_requests_total", route="/separate", status="499")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head + body[: len(body) // 2])
    wait_until(lambda: server.metric("textsep_requests_total", route="/separate", status="499") > gone)
    assert server.metric("textsep_queue_chunks") == 0 and server.metric("textsep_batcher_requests") == 0
    assert "Traceback" not in server.log.read_text()


def test_a_request_over_the_timeout_gets_503_and_its_chunks_are_dropped(servers, audio_file):
    impatient = servers["impatient"]
    dropped = impatient.metric("textsep_dropped_chunks_total")
    upload = audio_file(600, 8000)  # 147 chunks at 16 kHz: several seconds of model time on any CPU
    answer = separate(impatient.url, upload, "a hum")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "request_timeout"
    wait_until(lambda: impatient.metric("textsep_dropped_chunks_total") > dropped)
    wait_until(lambda: impatient.metric("textsep_queue_chunks") == 0)
    assert separate(impatient.url, audio_file(0.5, 8000), "a hum").status_code == 200


def test_a_soak_of_mixed_traffic_leaks_nothing(server):
    """80 s of mixed traffic (uploads of every kind, garbage, hang-ups, GETs) from 3 clients: every
    answer as expected, and from the end of a 25 s warm-up on, RSS grows under 10 % and threads and
    open files stay within a few of what the warm-up reached."""
    result = asyncio.run(soak(server.url, server.process.pid, seconds=80, clients=3, warmup_s=25))
    summary = result.summary()
    print("soak:", json.dumps(summary))
    assert result.errors == [] and summary["requests"] > 50
    assert {"separate 200", "not audio 415", "hang-up -"} <= set(result.answers)
    assert summary["rss_growth"] < 0.10
    # The thread pools (asyncio's executor, anyio's workers) may still grow a little after the
    # warm-up; a leak of one per request or per hang-up would add hundreds.
    for what in ("threads", "fds"):
        assert summary[what]["after_max"] <= summary[what]["warmup_max"] + POOL_SLACK, (what, summary[what])
    wait_until(lambda: server.metric("textsep_queue_chunks") == 0 and server.metric("textsep_batcher_requests") == 0)

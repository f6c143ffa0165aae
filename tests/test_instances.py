"""Model instances as processes, live: a killed instance costs no request, answers do not depend on
how many instances there are, and `auto` chooses what its own measurements say is fastest."""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from live import Server, all_ready, read, separate, wait_until

from service.instances import Measurement, choose


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """`auto`: every setting at its default. `two` and `one`: two and one single-threaded instances,
    batches of up to 2. All three start together (loading overlaps)."""
    log_dir = tmp_path_factory.mktemp("instances")
    with all_ready(
        {
            "auto": Server(log_dir),
            "two": Server(log_dir, TEXTSEP_INSTANCES="2", TEXTSEP_THREADS="1", TEXTSEP_MAX_BATCH="2"),
            "one": Server(log_dir, TEXTSEP_INSTANCES="1", TEXTSEP_THREADS="1", TEXTSEP_MAX_BATCH="2"),
        }
    ) as started:
        yield started


def instances(server: Server) -> dict:
    return httpx.get(server.url + "/v1/info").json()["instances"]


def test_answers_are_the_same_whatever_the_number_of_instances(servers, audio_file):
    """Ten concurrent requests of different lengths (short clips, several windows, stereo) give the
    same audio from two instances as from one."""
    uploads = [
        audio_file(seconds, 44100, channels=1 + i % 2, seed=i) for i, seconds in enumerate(np.linspace(0.3, 20, 10))
    ]

    def answers(server: Server) -> list:
        with ThreadPoolExecutor(len(uploads)) as pool:
            return list(
                pool.map(lambda upload: separate(server.url, upload, "a humming tone", subtype="FLOAT"), uploads)
            )

    two, one = answers(servers["two"]), answers(servers["one"])
    assert instances(servers["two"])["count"] == 2 and instances(servers["one"])["count"] == 1
    busy = [instance["busy_seconds"] for instance in instances(servers["two"])["each"]]
    assert min(busy) > 0, f"one of the two instances ran nothing: {busy}"
    for upload_two, upload_one in zip(two, one):
        assert upload_two.status_code == upload_one.status_code == 200
        assert np.abs(read(upload_two)[0] - read(upload_one)[0]).max() < 1e-4


def test_an_instance_killed_under_load_costs_no_request(servers, audio_file):
    server = servers["two"]
    victim = instances(server)["each"][0]
    requeued = server.metric("textsep_requeued_chunks_total")
    uploads = [audio_file(25, 16000, seed=i) for i in range(8)]  # 4 windows each: 32 chunks for 2 instances
    readiness = []
    with ThreadPoolExecutor(len(uploads)) as pool:
        answers = [pool.submit(separate, server.url, upload, "a humming tone") for upload in uploads]
        wait_until(lambda: server.metric("textsep_instance_busy_seconds_total", instance=victim["name"]) > 0.2)
        os.kill(victim["pid"], signal.SIGKILL)
        while not all(answer.done() for answer in answers):
            readiness.append(httpx.get(server.url + "/readyz").status_code)
            time.sleep(0.05)
        statuses = [answer.result().status_code for answer in answers]
    assert statuses == [200] * len(uploads)
    assert all(read(answer.result())[0].shape == (25 * 16000, 1) for answer in answers)
    assert set(readiness) == {200}, "the other instance was serving all along: ready throughout"
    wait_until(lambda: instances(server)["each"][0]["restarts"] == 1)
    restarted = instances(server)["each"][0]
    assert restarted["serving"] and restarted["pid"] != victim["pid"]
    assert server.metric("textsep_instance_restarts_total", instance=victim["name"]) == 1
    assert server.metric("textsep_requeued_chunks_total") > requeued, "it died mid-batch: its rows ran again"
    assert f"instance {victim['name']} (pid {victim['pid']})" in server.log.read_text()
    assert "killed by SIGKILL" in server.log.read_text()


def test_readyz_is_503_only_while_no_instance_serves(servers, audio_file):
    server = servers["two"]
    for instance in instances(server)["each"]:
        os.kill(instance["pid"], signal.SIGKILL)
    wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 503, timeout_s=10)
    assert httpx.get(server.url + "/readyz").json() == {"status": "restarting: no model instance is serving"}
    # a request that comes meanwhile is queued, not refused: the restarted instances run it
    answer = separate(server.url, audio_file(3, 16000), "a humming tone")
    assert answer.status_code == 200
    wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 200)  # once one of them is back
    wait_until(lambda: all(instance["serving"] for instance in instances(server)["each"]))


def test_auto_measures_several_configurations_and_chooses_the_fastest(servers):
    """On this 2-core machine `auto` times 2 instances x 1 thread against 1 x 2 at batch sizes 1, 2,
    ...: it runs more than one instance exactly when its own table says that is faster."""
    chosen = instances(servers["auto"])
    table = [Measurement(**row) for row in chosen["measured"]]
    configurations = {(row.instances, row.threads) for row in table}
    assert len(configurations) >= 2 and {(2, 1), (1, 2)} <= configurations
    best = choose(table)
    assert (chosen["count"], chosen["threads"], chosen["chosen_by"]) == (best.instances, best.threads, "measured")
    info = httpx.get(servers["auto"].url + "/v1/info").json()
    assert info["batching"]["max_batch"] == best.batch
    fastest_single = max((row for row in table if row.instances == 1), key=lambda row: row.chunk_audio_per_second)
    fastest_pair = max((row for row in table if row.instances == 2), key=lambda row: row.chunk_audio_per_second)
    if fastest_pair.chunk_audio_per_second > fastest_single.chunk_audio_per_second / 0.95:
        assert chosen["count"] == 2
    # the table it chose from is in the log, as measured
    line = next(line for line in servers["auto"].log.read_text().splitlines() if "from chunk audio s per s" in line)
    logged = re.findall(r"(\d+)x(\d+) batch (\d+): ([\d.]+)", line)
    assert [(int(n), int(t), int(b)) for n, t, b, _ in logged] == [row[:3] for row in table]
    assert f"chose {best.instances} instance(s) x {best.threads} thread(s), max_batch {best.batch}" in line
    assert servers["auto"].metric("textsep_instances_info", instances=str(best.instances), how="measured") == 1

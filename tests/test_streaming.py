"""`stream=true`: the WAV arrives as its chunks finish, equals the whole-file answer, and a client
that leaves midway has its remaining chunks dropped. Batches of one, so chunks finish one by one."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from live import Server, read, separate, wait_until

from model.separator import PRETRAINED

HEADER_BYTES = 44  # a plain RIFF/WAVE header: what comes before the first sample


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # The bundled weights as a plain checkpoint: the same separation, without an audio-query encoder.
    log_dir = tmp_path_factory.mktemp("streaming")
    with Server(log_dir, TEXTSEP_MAX_BATCH="1", TEXTSEP_MODEL=str(PRETRAINED["bundled"])) as server:
        yield server.wait_ready()


def streamed(server: Server, upload: bytes, query: str, **form: str):
    return httpx.stream(
        "POST",
        server.url + "/separate",
        files={"file": ("upload", upload)},
        data={"query": query, "stream": "true", **form},
        timeout=300,
    )


def test_first_samples_arrive_long_before_the_whole_file_could_be_done(server, audio_file):
    upload = audio_file(60, 16000, seed=4)  # 17 chunks
    started = time.monotonic()
    whole = separate(server.url, upload, "a humming tone")
    whole_seconds = time.monotonic() - started

    started, first_samples_at, body = time.monotonic(), None, b""
    with streamed(server, upload, "a humming tone") as answer:
        assert answer.status_code == 200 and answer.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in answer.headers
        for piece in answer.iter_raw():
            body += piece
            if first_samples_at is None and len(body) > HEADER_BYTES:
                first_samples_at = time.monotonic() - started
    print(f"60 s upload: whole answer {whole_seconds:.2f} s, first streamed samples after {first_samples_at:.2f} s")
    assert first_samples_at < whole_seconds / 3
    assert body == whole.content  # the same bytes, header included


@pytest.mark.parametrize(
    "seconds, form",
    [(9.5, {"mode": "remove"}), (9.5, {"mode": "extract", "subtype": "FLOAT"}), (1.2, {"mode": "remove"})],
)
def test_a_streamed_resampled_stereo_answer_equals_the_whole_file(server, audio_file, seconds, form):
    upload = audio_file(seconds, 44100, channels=2, seed=5)  # 1.2 s: one window shorter than the model's
    whole = separate(server.url, upload, "a humming tone", **form)
    with streamed(server, upload, "a humming tone", **form) as answer:
        answer.read()
    samples, rate, subtype = read(answer)
    assert (rate, subtype, samples.shape) == (44100, form.get("subtype", "PCM_16"), (round(seconds * 44100), 2))
    assert np.array_equal(samples, read(whole)[0])


def test_a_client_that_closes_the_stream_midway_frees_its_chunks(server, audio_file):
    dropped = server.metric("textsep_dropped_chunks_total")
    with streamed(server, audio_file(120, 16000), "a hum") as answer:  # 34 chunks
        received = b""
        for piece in answer.iter_raw():
            received += piece
            if len(received) > HEADER_BYTES:
                break
    # the connection is closed with most of the chunks still queued
    wait_until(lambda: server.metric("textsep_dropped_chunks_total") > dropped)
    wait_until(lambda: server.metric("textsep_queue_chunks") == 0)
    wait_until(lambda: server.metric("textsep_batcher_requests") == 0)
    assert httpx.get(server.url + "/readyz").status_code == 200


def test_an_example_recording_for_a_model_without_an_audio_encoder_is_422(server, audio_file):
    answer = httpx.post(
        server.url + "/separate",
        files={"file": ("upload", audio_file(0.5, 16000)), "query_audio": ("clip.wav", audio_file(1, 16000))},
        timeout=60,
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "query_by_example_unavailable"
    assert "text query" in answer.json()["error"]["message"]

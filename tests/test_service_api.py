"""End to end: `python -m service serve` as a real process on loopback, real audio over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
from live import REPO, Server, read, separate, wait_until

from service.settings import Settings

EXAMPLE = REPO / "examples/speech-and-piano.wav"


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """`batched`: batches of 4, small limits. `serial`: batches of 1 and a queue of one chunk.
    Both start together (loading overlaps), and both must exit 0 on SIGTERM at the end."""
    log_dir = tmp_path_factory.mktemp("servers")
    started = {
        "batched": Server(
            log_dir,
            TEXTSEP_MAX_BATCH="4",
            TEXTSEP_MAX_UPLOAD_BYTES="2000000",
            TEXTSEP_MAX_SECONDS="30",
            TEXTSEP_MAX_CHANNELS="2",
        ),
        "serial": Server(log_dir, TEXTSEP_MAX_BATCH="1", TEXTSEP_MAX_QUEUE_SECONDS="4"),
    }
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        exit_codes = {name: server.stop() for name, server in started.items()}
    assert exit_codes == {"batched": 0, "serial": 0}


@pytest.fixture(scope="session")
def server(servers) -> Server:
    return servers["batched"]


# ---- readiness --------------------------------------------------------------------------------


def test_readyz_is_503_while_warming_up_then_200(server):
    statuses = [status for status, _ in server.readiness]
    assert statuses[0] == 503 and statuses[-1] == 200 and set(statuses[:-1]) == {503}
    assert "warming up" in {reason for _, reason in server.readiness}


def test_info_describes_model_batching_and_limits(server):
    info = httpx.get(server.url + "/v1/info").json()
    assert (info["model"], info["sample_rate"], info["text_encoder"]) == ("bundled", 16000, "all-minilm-l6-v2")
    assert (info["device"], info["dtype"]) == ("cpu", "float32")
    assert (
        info["batching"]["max_batch"] == 4 and info["batching"]["chunk_seconds"] > info["batching"]["overlap_seconds"]
    )
    assert info["limits"] == {
        "max_upload_bytes": 2000000,
        "max_seconds": 30.0,
        "max_channels": 2,
        "max_queue_seconds": 1800.0,
        "max_query_chars": 512,
        "max_queries": 8,
        "max_query_audio_seconds": 30.0,
    }
    assert "textsep_model_info" in httpx.get(server.url + "/metrics").text
    assert httpx.get(server.url + "/docs").status_code == 200
    assert "/separate" in httpx.get(server.url + "/openapi.json").json()["paths"]


def test_a_model_file_that_is_missing_stops_startup_with_its_name(tmp_path):
    missing = tmp_path / "nowhere.pt"
    with Server(tmp_path, TEXTSEP_MODEL=str(missing)) as failed:
        assert failed.process.wait(timeout=120) == 2  # a setting to fix
    log = failed.log.read_text()
    assert f"TEXTSEP_MODEL = {missing}: not found" in log and "model checkpoint" in log and "Traceback" not in log


# ---- the answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rate, channels, format, subtype",
    [(8000, 1, "wav", "PCM_16"), (48000, 2, "wav", "FLOAT"), (8000, 2, "flac", "PCM_16"), (48000, 1, "flac", None)],
)
def test_answer_has_the_uploads_rate_channels_and_exact_length(server, audio_file, rate, channels, format, subtype):
    upload = audio_file(1.3 + 7 / rate, rate, channels)  # an odd length: resampling must not round it
    options = {"format": format} | ({"subtype": subtype} if subtype else {})
    answer = separate(server.url, upload, "a humming tone", **options)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == f"audio/{format}"
    samples, out_rate, out_subtype = read(answer)
    assert (out_rate, samples.shape) == (rate, (len(sf.read(io.BytesIO(upload))[0]), channels))
    assert out_subtype == (subtype or "PCM_16") and np.isfinite(samples).all()
    assert len(answer.headers["x-request-id"]) == 32  # generated: the client sent none
    assert {stage.split(";")[0] for stage in answer.headers["server-timing"].split(", ")} >= {
        "decode",
        "queue",
        "inference",
        "encode",
    }


@pytest.mark.parametrize("format, subtype", [("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_compressed_uploads_decode(server, audio_file, format, subtype):
    upload = audio_file(1.0, 44100, 2, format=format, subtype=subtype)
    answer = separate(server.url, upload, "a humming tone")
    assert answer.status_code == 200, answer.text
    samples, rate, _ = read(answer)
    assert (rate, samples.shape) == (44100, sf.read(io.BytesIO(upload), always_2d=True)[0].shape)


def test_client_request_id_is_echoed(server):
    answer = httpx.get(server.url + "/healthz", headers={"X-Request-ID": "trace-42"})
    assert answer.headers["x-request-id"] == "trace-42"


def test_the_embedding_cache_keys_on_the_query_as_typed_trimmed(server, audio_file):
    upload = audio_file(0.5, 16000)
    hits = server.metric("textsep_embedding_cache_hits_total")
    first = separate(server.url, upload, "Rain on a Tin Roof")
    trimmed = separate(server.url, upload, "  Rain on a Tin Roof \t")  # the same text once trimmed
    other_case = separate(server.url, upload, "rain on a tin roof")  # another text to a case-sensitive encoder
    cache = [answer.headers["x-embedding-cache"] for answer in (first, trimmed, other_case)]
    assert cache == ["miss", "hit", "miss"]
    assert server.metric("textsep_embedding_cache_hits_total") == hits + 1


def test_the_cli_and_the_service_give_the_same_audio_for_a_mixed_case_query(server, tmp_path):
    """Both give the encoder the text as typed (trimmed), so a query means one thing everywhere."""
    samples, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    source, written = tmp_path / "mixture.wav", tmp_path / "speech.wav"
    sf.write(source, samples[: 3 * rate], rate)
    query = "  A Man SPEAKING "
    answer = separate(server.url, source.read_bytes(), query)
    assert answer.status_code == 200, answer.text
    env = {**os.environ, "TEXTSEP_MAX_BATCH": "4"}  # the server's batch size: the same arithmetic
    command = [sys.executable, "-m", "service", "separate", str(source), "--query", query, "-o", str(written)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    over_http, by_cli = read(answer)[0], sf.read(written, dtype="float32", always_2d=True)[0]
    assert over_http.shape == by_cli.shape == (3 * rate, samples.shape[1])
    assert np.array_equal(over_http, by_cli)  # one model, one batch size, one text: the same bytes of audio


def test_an_extracted_sound_holds_nothing_above_8_khz_and_the_residual_keeps_it_all(server):
    """The bundled model works at 16 kHz (as the README says): a full-band upload's content above
    8 kHz is missing from what it extracts, and so all of it stays in the residual."""
    samples, rate = sf.read(EXAMPLE, dtype="float32", always_2d=True)
    upload = samples[: 3 * rate, :1] + 0.1 * np.random.default_rng(0).standard_normal((3 * rate, 1), np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, upload, rate, format="WAV", subtype="FLOAT")
    answer = separate(server.url, buffer.getvalue(), "piano", mode="both", subtype="FLOAT")
    assert answer.status_code == 200, answer.text

    def above_8_5_khz(signal: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(signal[:, 0])) ** 2
        return power[np.fft.rfftfreq(len(signal), 1 / rate) > 8500].sum()

    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        stems = {name: sf.read(io.BytesIO(archive.read(name)), always_2d=True)[0] for name in archive.namelist()[:2]}
    relative_db = {name: 10 * np.log10(above_8_5_khz(stem) / above_8_5_khz(upload)) for name, stem in stems.items()}
    assert relative_db["piano.wav"] < -40, relative_db
    assert abs(relative_db["residual.wav"]) < 0.1, relative_db


QUERIES = [
    "a dog barking",
    "rain",
    "a violin",
    "a car horn",
    "birdsong",
    "speech",
    "a drum kit",
    "wind",
    "a siren",
    "footsteps",
    "a piano chord",
    "applause",
    "thunder",
    "a cat",
    "an engine",
    "a whistle",
]


def test_micro_batching_does_not_change_the_answer(servers, audio_file):
    """16 concurrent requests (different queries and lengths, batched together up to 4 chunks) give
    the same audio as each request sent alone to a server that runs batches of one."""
    batched, serial = servers["batched"], servers["serial"]
    uploads = [audio_file(seconds, 16000, seed=i) for i, seconds in enumerate(np.linspace(0.5, 9, len(QUERIES)))]
    batches = batched.metric("textsep_batch_size_count")
    batches_of_one = batched.metric("textsep_batch_size_bucket", le="1.0")

    async def send_together():
        async with httpx.AsyncClient(timeout=300) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        batched.url + "/separate",
                        files={"file": ("upload", upload)},
                        data={"query": query, "subtype": "FLOAT"},
                    )
                    for upload, query in zip(uploads, QUERIES)
                )
            )

    together = asyncio.run(send_together())
    batches = batched.metric("textsep_batch_size_count") - batches
    batches_of_one = batched.metric("textsep_batch_size_bucket", le="1.0") - batches_of_one
    assert batches > batches_of_one, "no batch of more than one chunk was formed"
    for upload, query, answer in zip(uploads, QUERIES, together):
        alone = separate(serial.url, upload, query, subtype="FLOAT")
        assert answer.status_code == alone.status_code == 200
        assert np.abs(read(answer)[0] - read(alone)[0]).max() < 1e-4, query


# ---- errors -----------------------------------------------------------------------------------


def form(upload: bytes, **fields: str) -> dict:
    return {"files": {"file": ("upload", upload)}, "data": {"query": "a dog barking", **fields}}


ERRORS = {
    "no file field": (lambda a: {"data": {"query": "a dog"}}, 400, "malformed_form"),
    "file is no file": (lambda a: {"data": {"query": "a dog", "file": "RIFF"}}, 400, "malformed_form"),
    "not multipart": (lambda a: {"json": {"query": "a dog"}}, 400, "malformed_form"),
    "broken multipart": (
        lambda a: {"content": b"--xx\r\nnonsense", "headers": {"content-type": "multipart/form-data; boundary=xx"}},
        400,
        "malformed_form",
    ),
    "body too large": (lambda a: form(os.urandom(2_100_000)), 413, "upload_too_large"),
    "audio too long": (lambda a: form(a(31, 8000)), 413, "audio_too_long"),
    "too many channels": (lambda a: form(a(0.2, 8000, 3)), 413, "too_many_channels"),
    "not audio": (lambda a: form(b"this is a text file, not a sound\n" * 50), 415, "unsupported_audio"),
    "truncated": (lambda a: form(a(1, 8000)[:40]), 415, "unsupported_audio"),
    "no samples": (lambda a: form(a(0, 8000)), 422, "empty_audio"),
    "empty query": (lambda a: form(a(0.2, 8000), query=""), 422, "invalid_query"),
    "blank query": (lambda a: form(a(0.2, 8000), query=" \t "), 422, "invalid_query"),
    "513-char query": (lambda a: form(a(0.2, 8000), query="x" * 513), 422, "invalid_query"),
    "bad format": (lambda a: form(a(0.2, 8000), format="mp3"), 422, "invalid_format"),
    "bad subtype": (lambda a: form(a(0.2, 8000), subtype="PCM_24"), 422, "invalid_subtype"),
    "flac of floats": (lambda a: form(a(0.2, 8000), format="flac", subtype="FLOAT"), 422, "invalid_subtype"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_client_mistakes_get_their_status_and_a_json_error(server, audio_file, case):
    make, status, code = ERRORS[case]
    answer = httpx.post(server.url + "/separate", timeout=60, **make(audio_file))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"]
    assert set(answer.json()) == {"error"} and set(answer.json()["error"]) == {"code", "message"}
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/readyz").status_code == 200
    if status == 413:  # every 413 says which setting raises the limit
        setting = {"upload_too_large": "TEXTSEP_MAX_UPLOAD_BYTES", "audio_too_long": "TEXTSEP_MAX_SECONDS",
                   "too_many_channels": "TEXTSEP_MAX_CHANNELS"}[code]  # fmt: skip
        assert setting in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "files, fields, named",
    [
        ("file", {"querry": "piano"}, "`querry` (did you mean `query`?)"),
        ("audio", {"query": "piano"}, "`audio` (did you mean `file`?)"),
        ("file", {"query": "piano", "mdoe": "remove"}, "`mdoe` (did you mean `mode`?)"),
        ("file", {"query": "piano", "colour": "blue"}, "`colour`;"),
    ],
    ids=["misspelt query", "audio for file", "misspelt mode", "unrelated"],
)
def test_a_form_field_the_route_does_not_take_is_named_with_the_one_meant(server, audio_file, files, fields, named):
    answer = httpx.post(server.url + "/separate", files={files: ("a.wav", audio_file(0.2, 8000))}, data=fields)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "unknown_field", answer.text
    message = answer.json()["error"]["message"]
    assert named in message and "this route takes `file`, `query`" in message


def test_an_empty_file_is_called_empty_and_a_missing_one_is_shown_how_to_send(server):
    empty = httpx.post(server.url + "/separate", files={"file": ("a.wav", b"")}, data={"query": "piano"})
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "empty_file")
    missing = httpx.post(server.url + "/separate", data={"query": "piano"})
    assert missing.status_code == 400 and "-F file=@" in missing.json()["error"]["message"]


def test_answers_are_named_for_filing_and_zip_entries_are_regular_files(server, audio_file):
    upload = audio_file(0.5, 16000)
    files = {"file": ("Meeting Recording (2).wav", upload)}
    one = httpx.post(server.url + "/separate", files=files, data={"query": "Piano!"}, timeout=60)
    assert one.headers["content-disposition"] == 'attachment; filename="meeting-recording-2-piano.wav"'
    removed = httpx.post(server.url + "/separate", files=files, data={"query": "piano", "mode": "remove"}, timeout=60)
    assert removed.headers["content-disposition"] == 'attachment; filename="meeting-recording-2-residual.wav"'
    both = httpx.post(server.url + "/separate", files=files, data={"query": "piano", "mode": "both"}, timeout=60)
    assert both.headers["content-disposition"] == 'attachment; filename="meeting-recording-2-stems.zip"'
    entries = zipfile.ZipFile(io.BytesIO(both.content)).infolist()
    assert [entry.filename for entry in entries] == ["piano.wav", "residual.wav", "manifest.json"]
    assert all(entry.external_attr >> 16 == stat.S_IFREG | 0o644 and entry.date_time[0] >= 2026 for entry in entries)
    streamed = httpx.post(server.url + "/separate", files=files, data={"query": "piano", "stream": "true"}, timeout=60)
    assert streamed.headers["content-disposition"] == 'attachment; filename="meeting-recording-2-piano.wav"'


def test_a_float_upload_beyond_full_scale_is_answered_in_float_or_told_it_was_clipped(server):
    rate = 16000
    loud = 1.6 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)  # peaks at +4 dBFS
    buffer = io.BytesIO()
    sf.write(buffer, loud, rate, format="WAV", subtype="FLOAT")
    files = {"file": ("loud.wav", buffer.getvalue())}
    kept = httpx.post(server.url + "/separate", files=files, data={"query": "piano", "mode": "remove"}, timeout=60)
    samples, _, subtype = read(kept)
    assert subtype == "FLOAT" and np.abs(samples).max() > 1.0 and "x-clipped-samples" not in kept.headers
    asked = httpx.post(server.url + "/separate", files=files, timeout=60,
                       data={"query": "piano", "mode": "remove", "subtype": "PCM_16"})  # fmt: skip
    assert read(asked)[2] == "PCM_16" and int(asked.headers["x-clipped-samples"]) > 0


def test_a_512_char_query_with_spaces_around_is_accepted(server, audio_file):
    assert separate(server.url, audio_file(0.2, 8000), "  " + "x" * 512 + "  ").status_code == 200


def test_the_default_byte_limit_lets_the_longest_advertised_upload_in(servers, audio_file):
    """600 s (TEXTSEP_MAX_SECONDS' default) of 16-bit stereo WAV at 48 kHz, a 30 s query recording
    of the same kind and eight 512-character queries fit the default TEXTSEP_MAX_UPLOAD_BYTES: the
    server reads the form to its end and judges its fields (an unknown format here, so nothing runs)."""
    serial = servers["serial"]  # the default limits
    files = [
        ("file", ("ten-minutes.wav", audio_file(600, 48000, 2, subtype="PCM_16"))),
        ("query_audio", ("example.wav", audio_file(30, 48000, 2, subtype="PCM_16"))),
    ]
    answer = httpx.post(
        serial.url + "/separate", files=files, data={"query": ["x" * 512] * 8, "format": "mp3"}, timeout=300
    )
    assert int(answer.request.headers["content-length"]) > 630 * 48000 * 2 * 2
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_format", answer.text


@pytest.mark.parametrize("which, limit", [("batched", 2_000_000), ("serial", Settings().max_upload_bytes)])
def test_a_body_over_the_byte_limit_is_told_which_setting_raises_it(servers, which, limit):
    with socket.create_connection(("127.0.0.1", servers[which].port), timeout=30) as connection:
        connection.sendall(
            b"POST /separate HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: %d\r\n\r\n" % (limit + 1)
        )
        answer = b""
        while received := connection.recv(65536):  # the server hangs up after its answer (Connection: close)
            answer += received
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413")
    assert json.loads(body)["error"] == {
        "code": "upload_too_large",
        "message": f"the request body is over {limit} bytes (set TEXTSEP_MAX_UPLOAD_BYTES to raise it)",
    }


def test_upload_limit_holds_while_the_body_streams_in(server):
    """No Content-Length (chunked) and a body that never ends: the 413 must come once the limit is
    passed, from the bytes read so far."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(
            b"POST /separate HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=xx\r\n\r\n"
        )
        part = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        connection.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        piece = os.urandom(64 * 1024)
        for _ in range(2_000_000 // len(piece) + 1):  # just past the 2 MB limit, then silence
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while received := connection.recv(65536):  # the server hangs up after its answer
                answer += received
    answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413") and '"upload_too_large"' in answer


# ---- backpressure and disconnects (the serial server: batches of one, a one-chunk queue) -------------


def test_full_queue_answers_503_with_retry_after(servers, audio_file):
    serial = servers["serial"]
    with ThreadPoolExecutor(1) as pool:
        # 35 chunks, admitted because the queue is empty; then a one-chunk request finds it full
        long = pool.submit(separate, serial.url, audio_file(120, 16000), "a hum")
        wait_until(lambda: serial.metric("textsep_queue_chunks") > 0)
        refused = separate(serial.url, audio_file(0.5, 16000), "a hum")
        assert long.result().status_code == 200
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    assert int(refused.headers["retry-after"]) >= 1


def test_chunks_of_a_client_that_hangs_up_are_dropped(servers, audio_file):
    serial = servers["serial"]
    dropped = serial.metric("textsep_dropped_chunks_total")
    upload = httpx.Request(
        "POST", serial.url + "/separate", files={"file": ("upload", audio_file(120, 16000))}, data={"query": "a hum"}
    )
    head = "POST /separate HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in upload.headers.items())
    with socket.create_connection(("127.0.0.1", serial.port), timeout=30) as connection:
        connection.sendall(head.encode() + b"\r\n" + upload.read())
        wait_until(lambda: serial.metric("textsep_queue_chunks") > 0)
    # the client has hung up with most of its 35 chunks still queued
    wait_until(lambda: serial.metric("textsep_dropped_chunks_total") > dropped)
    wait_until(lambda: serial.metric("textsep_queue_chunks") == 0)
    wait_until(lambda: serial.metric("textsep_batcher_requests") == 0)
    wait_until(lambda: serial.metric("textsep_requests_total", route="/separate", status="499") >= 1)


# ---- shutdown ---------------------------------------------------------------------------------


def test_sigterm_answers_every_accepted_request_then_exits_0(tmp_path, audio_file):
    with Server(tmp_path, TEXTSEP_MAX_BATCH="2") as server:
        server.wait_ready()
        uploads = [audio_file(20, 16000, seed=i) for i in range(4)]  # 6 chunks each

        def accepted() -> float:  # requests in the batcher, or already answered
            in_batcher = server.metric("textsep_batcher_requests")
            return in_batcher + server.metric("textsep_requests_total", route="/separate", status="200")

        with ThreadPoolExecutor(len(uploads)) as pool:
            answers = [pool.submit(separate, server.url, upload, f"tone {i}") for i, upload in enumerate(uploads)]
            wait_until(lambda: accepted() >= len(uploads))
            assert server.metric("textsep_queue_chunks") > 0, "the work ended before SIGTERM: use longer uploads"
            server.process.send_signal(signal.SIGTERM)
            answers = [answer.result() for answer in answers]
        assert [answer.status_code for answer in answers] == [200] * len(uploads)
        assert all(read(answer)[0].shape == (20 * 16000, 1) for answer in answers)
        assert server.process.wait(timeout=60) == 0


def test_after_sigterm_the_server_says_it_is_draining_refuses_new_work_and_answers_what_it_accepted(
    tmp_path, audio_file
):
    with Server(tmp_path, TEXTSEP_MAX_BATCH="1") as server:
        server.wait_ready()
        with ThreadPoolExecutor(1) as pool:
            long = pool.submit(separate, server.url, audio_file(120, 16000), "a hum")  # 30 chunks, one at a time
            wait_until(lambda: server.metric("textsep_queue_chunks") > 0)
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 503)  # the socket is still open
            assert httpx.get(server.url + "/readyz").json() == {"status": "draining"}
            refused = separate(server.url, audio_file(0.5, 16000), "a hum")
            assert server.metric("textsep_queue_chunks") > 0, "the long request ended before: use a longer one"
            answer = long.result()
        exit_code = server.process.wait(timeout=60)
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == {"code": "not_ready", "message": "the server is not ready: draining"}
    assert refused.headers["connection"] == "close"  # its upload is not read: the client can go elsewhere
    assert answer.status_code == 200 and read(answer)[0].shape == (120 * 16000, 1)
    assert exit_code == 0
    log = server.log.read_text()
    assert "draining: 1 request(s) to finish" in log and "drained: every accepted request is answered" in log


def test_with_log_format_json_every_line_of_the_server_is_one_json_object(tmp_path):
    with Server(tmp_path, TEXTSEP_MAX_BATCH="1", TEXTSEP_LOG_FORMAT="json") as server:
        server.wait_ready()
        assert httpx.get(server.url + "/no/such/page").status_code == 404
        assert server.stop() == 0
    lines = server.log.read_text().splitlines()
    not_json = [line for line in lines if not is_json_object(line)]
    assert lines and not not_json, f"{len(not_json)} of {len(lines)} lines are not JSON objects: {not_json[:5]}"
    lines = [json.loads(line) for line in lines]
    by_logger = {}
    for line in lines:
        by_logger.setdefault(line.get("logger"), []).append(line["message"])
    assert any(message.startswith("Uvicorn running on") for message in by_logger["uvicorn.error"])  # uvicorn's
    assert any(message.startswith("model ready") for message in by_logger["service.runtime"])  # the app's
    assert any(message.startswith("drained") for message in by_logger["service.draining"])
    (not_found,) = [line for line in lines if line.get("status") == 404]  # the access log's line
    assert (not_found["route"], not_found["path"], not_found["method"]) == ("unmatched", "/no/such/page", "GET")
    assert all({"time", "message"} <= set(line) for line in lines)


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False

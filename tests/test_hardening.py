"""Hostile and odd input against a live server: the bad-input corpus, made here by the tests; and
access: API keys and the JSON access log.

Every case gets its own status (a 4xx with the JSON error body, or a valid 200 where the input is
legal), nothing gets a 5xx, and the server is ready afterwards. The form-level basics (missing file,
not multipart, too large, empty or 513-char query, bad format) are in test_service_api.py. The
server requires API keys, so every request here also shows that a valid key lets it through.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from live import Server
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bench.soak import process_sample
from service.app import create_app
from service.settings import Settings

RATE = 8000
MAX_SECONDS = 30
SETTING_KEYS = ["key-from-the-setting-0123456789", "second-setting-key-abcdef"]
FILE_KEY = "key-from-the-file-9876543210"
AUTH = {"Authorization": f"Bearer {SETTING_KEYS[0]}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("hardening")
    keys_file = log_dir / "api-keys"
    keys_file.write_text(f"# one key a line\n\n{FILE_KEY}  # the ops team\n")
    with Server(
        log_dir,
        TEXTSEP_MAX_BATCH="2",
        TEXTSEP_MAX_SECONDS=str(MAX_SECONDS),
        TEXTSEP_MAX_UPLOAD_BYTES="2000000",
        TEXTSEP_API_KEYS=" , ".join(SETTING_KEYS),
        TEXTSEP_API_KEYS_FILE=str(keys_file),
        TEXTSEP_METRICS_NEED_KEY="true",
    ) as server:
        yield server.wait_ready()


def server_errors(server: Server) -> list[str]:
    """The 5xx statuses the server has answered so far, by route (/readyz's 503 while warming up is
    what it should say, so it does not count), and whether it logged a traceback."""
    text = httpx.get(server.url + "/metrics", headers=AUTH).text
    errors = [
        f"{sample.labels['route']} {sample.labels['status']}"
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "textsep_requests_total" and sample.value > 0
        and sample.labels["status"].startswith("5") and sample.labels["route"] != "/readyz"
    ]  # fmt: skip
    return errors + (["a traceback in the log"] if "Traceback" in server.log.read_text() else [])


@pytest.fixture(autouse=True)
def no_server_error(request):
    """After every test that used the server, in any order: nothing it sent got a 5xx or a traceback."""
    yield
    if "server" in request.fixturenames:
        assert server_errors(request.getfixturevalue("server")) == []


def post(server: Server, **request) -> httpx.Response:
    headers = AUTH | request.pop("headers", {})
    return httpx.post(server.url + "/separate", headers=headers, timeout=60, **request)


# ---- making the corpus ------------------------------------------------------------------------


def encode(samples: np.ndarray, format: str = "WAV", subtype: str | None = None, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=format, subtype=subtype)
    return buffer.getvalue()


def tone(seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.stack([0.3 * np.sin(2 * np.pi * (330 + 110 * c) * t) for c in range(channels)], axis=1).astype(np.float32)


def compressed(format: str) -> bytes:
    return encode(
        tone(2.0), *{"FLAC": ("FLAC", "PCM_16"), "OGG": ("OGG", "VORBIS"), "MP3": ("MP3", "MPEG_LAYER_III")}[format]
    )


def overwrite(data: bytes, offset: int, packing: str, *values) -> bytes:
    patched = bytearray(data)
    struct.pack_into(packing, patched, offset, *values)
    return bytes(patched)


def scrambled(data: bytes, at: float = 0.3, length: int = 512) -> bytes:
    """`length` seeded random bytes written over the file from `at` of its length on."""
    start = int(len(data) * at)
    noise = np.random.default_rng(9).integers(0, 256, length, dtype=np.uint8).tobytes()
    return data[:start] + noise + data[start + length :]


def wav_at_rate(rate: int) -> bytes:
    """A canonical 16-bit mono WAV whose header claims `rate` (fmt chunk: sample rate, byte rate)."""
    return overwrite(encode(tone(0.5)), 24, "<II", rate, 2 * rate)


def flac_silence(hours: float) -> bytes:
    """Hours of digital silence: FLAC compresses it to a few bytes per frame (2 h: about 180 KB)."""
    buffer = io.BytesIO()
    minute = np.zeros(60 * RATE, np.int16)
    with sf.SoundFile(buffer, "w", RATE, 1, format="FLAC", subtype="PCM_16") as file:
        for _ in range(round(hours * 60)):
            file.write(minute)
    return buffer.getvalue()


def flac_total_samples(data: bytes, total: int) -> bytes:
    """STREAMINFO's 36-bit total-samples field (0: unknown) set to `total`."""
    (packed,) = struct.unpack_from(">Q", data, 18)  # rate(20) channels(3) bits(5) total(36)
    return overwrite(data, 18, ">Q", (packed & ~(2**36 - 1)) | total)


# ---- the corpus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    request: dict  # httpx.post keyword arguments
    status: int
    code: str | None = None  # the error code, for a 4xx
    audio: bytes | None = None  # for a 200: the upload the answer must match in rate and shape
    stems: bool = False  # several query fields: a ZIP of one file per query and the residual


def upload(data: bytes, query: str = "a humming tone", status: int = 200, code: str | None = None) -> Case:
    return Case({"files": {"file": ("upload", data)}, "data": {"query": query}}, status, code, data)


MULTIPART = {"content-type": "multipart/form-data; boundary=xx"}

CORPUS = {
    # the body and the form
    "empty body": lambda: Case({"content": b"", "headers": MULTIPART}, 400, "malformed_form"),
    "empty body, no content type": lambda: Case({"content": b""}, 400, "malformed_form"),
    "text/plain body": lambda: Case(
        {"content": b"a dog", "headers": {"content-type": "text/plain"}}, 400, "malformed_form"
    ),
    "missing query": lambda: Case({"files": {"file": ("a.wav", encode(tone(0.2)))}}, 422, "missing_query"),
    "missing both fields": lambda: Case({"files": {"other": ("x", b"x")}}, 422, "unknown_field"),  # names `other`
    "duplicated query field": lambda: Case(  # several queries: one answer each
        {"files": [("file", ("a.wav", encode(tone(0.3)))), ("query", (None, "a dog")), ("query", (None, "a dog"))]},
        200,
        audio=encode(tone(0.3)),
        stems=True,
    ),
    "duplicated file field": lambda: Case(
        {
            "files": [("file", ("a.wav", encode(tone(0.3)))), ("file", ("b.wav", encode(tone(0.3))))],
            "data": {"query": "x"},
        },
        200,
        audio=encode(tone(0.3)),
    ),
    "2000 form fields": lambda: Case(
        {"files": {"file": ("a.wav", encode(tone(0.2)))}, "data": {f"f{i}": "x" for i in range(2000)} | {"query": "a"}},
        400,
        "malformed_form",
    ),
    # the query
    "100 KB query": lambda: upload(encode(tone(0.2)), "a dog " * 17_000, 422, "invalid_query"),
    "control characters in the query": lambda: upload(encode(tone(0.2)), "a\x00 dog\x07\x1b[31m barking\r\n"),
    "emoji query": lambda: upload(encode(tone(0.2)), "🐕 a dog barking 🔊"),
    "query not UTF-8": lambda: Case(
        {"files": [("file", ("a.wav", encode(tone(0.2)))), ("query", (None, b"a \xff\xfe dog"))]},
        200,
        audio=encode(tone(0.2)),
    ),
    # not audio
    "random bytes": lambda: upload(os.urandom(64 * 1024), status=415, code="unsupported_audio"),
    "a PNG": lambda: upload(b"\x89PNG\r\n\x1a\n" + os.urandom(4000), status=415, code="unsupported_audio"),
    "empty file": lambda: upload(b"", status=422, code="empty_file"),
    # truncated and corrupt files
    "WAV cut mid-data": lambda: upload(encode(tone(2.0))[:9000]),  # plays what is there
    "WAV with scrambled samples": lambda: upload(scrambled(encode(tone(2.0)))),  # noise is audio
    "WAV with an unknown format tag": lambda: upload(
        overwrite(encode(tone(0.5)), 20, "<H", 0x1234), status=415, code="unsupported_audio"
    ),
    "FLAC cut in half": lambda: upload(compressed("FLAC")[:-4000], status=415, code="unsupported_audio"),
    "FLAC with scrambled frames": lambda: upload(scrambled(compressed("FLAC")), status=415, code="unsupported_audio"),
    "OGG cut in half": lambda: upload(compressed("OGG")[:1500], status=415, code="unsupported_audio"),
    "OGG with scrambled pages": lambda: upload(scrambled(compressed("OGG")), status=415, code="unsupported_audio"),
    "MP3 cut in half": lambda: upload(compressed("MP3")[:2000]),  # MPEG frames stand alone
    "MP3 with scrambled frames": lambda: upload(scrambled(compressed("MP3"))),  # the decoder resyncs
    "MP3 header only": lambda: upload(compressed("MP3")[:30], status=415, code="unsupported_audio"),
    # headers that lie
    "WAV data chunk claiming 4 GB": lambda: upload(overwrite(encode(tone(0.5)), 40, "<I", 0xFFFFFF00)),  # size wins
    "FLAC claiming 99 days": lambda: upload(
        flac_total_samples(compressed("FLAC"), 2**36 - 1), status=413, code="audio_too_long"
    ),
    "sample rate 0": lambda: upload(wav_at_rate(0), status=415, code="unsupported_audio"),
    "sample rate 1": lambda: upload(wav_at_rate(1), status=415, code="unsupported_audio"),
    "sample rate 10^9": lambda: upload(wav_at_rate(10**9), status=415, code="unsupported_audio"),
    "64 channels": lambda: upload(encode(np.zeros((800, 64), np.float32)), status=413, code="too_many_channels"),
    # odd but legal samples
    "NaN samples": lambda: upload(
        encode(np.where(tone() > 0.2, np.nan, tone()), subtype="FLOAT"), status=422, code="non_finite_audio"
    ),
    "infinite samples": lambda: upload(
        encode(np.where(tone() > 0.2, -np.inf, tone()), subtype="FLOAT"), status=422, code="non_finite_audio"
    ),
    "a single sample": lambda: upload(encode(tone()[:1])),
    "pure silence": lambda: upload(encode(np.zeros((RATE, 1), np.float32))),
    "full-scale clipping": lambda: upload(encode(np.sign(tone()) * 1.0)),
    "8-bit WAV": lambda: upload(encode(tone(), subtype="PCM_U8")),
    "24-bit WAV": lambda: upload(encode(tone(0.7, 2), subtype="PCM_24")),
    "float64 WAV": lambda: upload(encode(tone().astype(np.float64), subtype="DOUBLE")),
}


@pytest.mark.parametrize("name", CORPUS)
def test_bad_input_gets_its_status_and_never_a_server_error(server, name):
    case = CORPUS[name]()
    answer = post(server, **case.request)
    assert answer.status_code == case.status, answer.text[:500]
    if case.status == 200:
        expected, rate = sf.read(io.BytesIO(case.audio), always_2d=True)
        answers = [answer.content]
        if case.stems:
            archive = zipfile.ZipFile(io.BytesIO(answer.content))
            answers = [archive.read(name) for name in archive.namelist() if name.endswith(".wav")]
            assert len(answers) == 3  # two queries and the residual
        for content in answers:
            samples, out_rate = sf.read(io.BytesIO(content), always_2d=True)
            assert (out_rate, samples.shape) == (rate, expected.shape) and np.isfinite(samples).all()
    else:
        assert answer.json() == {"error": {"code": case.code, "message": answer.json()["error"]["message"]}}
        assert answer.json()["error"]["message"]
    assert httpx.get(server.url + "/readyz").status_code == 200


def test_a_decompression_bomb_is_refused_without_decoding_it(server):
    """Two hours of silence in 180 KB of FLAC decode to 230 MB of float32. Declared, the header
    check refuses it; hidden (length unknown), decoding stops one frame past the limit. Either way
    the server's peak memory stays far below the decoded size."""
    bomb = flac_silence(hours=2)
    decoded_bytes = 2 * 3600 * RATE * 4
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # restart the peak-RSS count (VmHWM)
    before = process_sample(server.process.pid)
    for data in (bomb, flac_total_samples(bomb, 0)):
        answer = post(server, files={"file": ("bomb.flac", data)}, data={"query": "x"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (413, "audio_too_long")
    growth = process_sample(server.process.pid).peak_rss - before.rss
    assert growth < decoded_bytes / 10, f"peak RSS grew {growth / 2**20:.0f} MiB"


# ---- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-key", f"Basic {SETTING_KEYS[0]}", f"Bearer {SETTING_KEYS[0]}x"],
    ids=["none", "empty", "wrong key", "wrong scheme", "key plus a byte"],
)
@pytest.mark.parametrize("method, path", [("POST", "/separate"), ("GET", "/v1/info"), ("GET", "/metrics")])
def test_api_routes_need_a_valid_key(server, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = httpx.request(
        method, server.url + path, headers=headers, files={"file": ("a", b"RIFF")} if method == "POST" else None
    )
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("key", [*SETTING_KEYS, FILE_KEY])
def test_every_configured_key_is_accepted(server, key):
    assert httpx.get(server.url + "/v1/info", headers={"Authorization": f"bearer {key}"}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_health_readiness_and_docs_stay_open(server, path):
    assert httpx.get(server.url + path).status_code == 200


def test_a_key_file_without_keys_stops_startup(tmp_path):
    """A file meant to lock the API must not leave it open because it is empty."""
    keys_file = tmp_path / "api-keys"
    keys_file.write_text("# nobody yet\n\n")
    with pytest.raises(ValidationError, match="holds no keys"):
        Settings(api_keys_file=keys_file)


@pytest.mark.parametrize("log_queries", [False, True])
def test_query_text_is_logged_only_when_the_setting_allows(caplog, log_queries):
    client = TestClient(create_app(Settings(log_queries=log_queries)))  # no model loaded: the answer is 503
    with caplog.at_level(logging.INFO, logger="textsep.access"):
        client.post("/separate", files={"file": ("a.wav", b"RIFF")}, data={"query": "my neighbour's parrot"})
    (line,) = [record for record in caplog.records if record.name == "textsep.access"]
    assert (line.route, line.status) == ("/separate", 503)
    assert getattr(line, "query", None) == ("my neighbour's parrot" if log_queries else None)


def test_access_log_is_json_without_keys_or_queries(server):
    """One JSON line per request with its ID, route, status, timings and sizes; nothing secret."""
    answer = post(server, files={"file": ("a.wav", encode(tone(0.5)))}, data={"query": "my neighbour's parrot"})
    request_id = answer.headers["x-request-id"]
    log = server.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line["request_id"] == request_id]
    assert (line["method"], line["route"], line["status"], line["audio_seconds"]) == ("POST", "/separate", 200, 0.5)
    assert line["bytes_in"] > 8000 and line["bytes_out"] == len(answer.content)
    assert {"decode", "queue", "inference", "encode"} <= set(line["stages_ms"]) and line["duration_ms"] > 0
    assert {line["status"] for line in lines} >= {200, 401, 413, 415, 422}
    assert "parrot" not in log and not [key for key in [*SETTING_KEYS, FILE_KEY] if key in log]
    assert '"GET /readyz HTTP/1.1"' not in log  # uvicorn's own access log is off

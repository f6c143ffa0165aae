"""`mode=remove|both`, several queries in one call, and query by example, against a real server."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import numpy as np
import pytest
import soundfile as sf
from live import Server, read, separate

from service.stems import stem_names

QUERIES = ["A dog barking!", "piano", "a dog barking"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("modes"), TEXTSEP_MAX_BATCH="4", TEXTSEP_MAX_QUERIES="3") as server:
        yield server.wait_ready()


def post(server: Server, upload: bytes, query: list[str], **form: str) -> httpx.Response:
    files = {"file": ("upload", upload)}
    return httpx.post(server.url + "/separate", files=files, data={"query": query, **form}, timeout=300)


def unzip(answer: httpx.Response) -> tuple[dict[str, np.ndarray], dict]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    members = {
        name: sf.read(io.BytesIO(archive.read(name)), dtype="float32", always_2d=True)[0]
        for name in archive.namelist()
        if name != "manifest.json"
    }
    return members, json.loads(archive.read("manifest.json"))


def test_names_are_safe_and_unique():
    names = stem_names(["A dog barking!", "a dog barking", "Café  piano", "residual", "¿?", "x" * 80])
    assert names == ["a-dog-barking", "a-dog-barking-2", "cafe-piano", "residual-2", "query", "x" * 60]


def test_target_plus_residual_is_the_upload(server, audio_file):
    upload = audio_file(2.5, 22050, channels=2)
    stems, manifest = unzip(post(server, upload, ["a humming tone"], mode="both", subtype="FLOAT"))
    assert set(stems) == {"a-humming-tone.wav", "residual.wav"}
    mixture = sf.read(io.BytesIO(upload), dtype="float32", always_2d=True)[0]
    assert np.abs(stems["a-humming-tone.wav"] + stems["residual.wav"] - mixture).max() < 1e-6
    assert np.abs(stems["residual.wav"]).max() > 0.01  # the model did take something out
    assert manifest["mode"] == "both" and manifest["channels"] == 2

    removed = separate(server.url, upload, "a humming tone", mode="remove", subtype="FLOAT")
    assert removed.headers["content-type"] == "audio/wav"
    assert np.array_equal(read(removed)[0], stems["residual.wav"])


def test_several_queries_equal_each_sent_alone_and_come_zipped_with_a_manifest(server, audio_file):
    upload = audio_file(5, 16000, seed=3)  # two windows per query
    stems, manifest = unzip(post(server, upload, QUERIES, subtype="FLOAT"))
    names = ["a-dog-barking.wav", "piano.wav", "a-dog-barking-2.wav"]
    assert set(stems) == {*names, "residual.wav"}
    nearest = [entry.pop("nearest_class", None) for entry in manifest["files"]]  # the bundled model's vocabulary
    assert nearest[1] == {"label": "piano", "similarity": 1.0} and nearest[3] is None
    assert manifest == {
        "mode": "extract",
        "sample_rate": 16000,
        "frames": 5 * 16000,
        "channels": 1,
        "subtype": "FLOAT",
        "query_audio": None,
        "files": [
            *({"name": name, "kind": "target", "query": query} for name, query in zip(names, QUERIES)),
            {"name": "residual.wav", "kind": "residual", "query": None},
        ],
    }
    for name, query in zip(names, QUERIES):
        alone = read(separate(server.url, upload, query, subtype="FLOAT"))[0]
        assert np.abs(stems[name] - alone).max() < 1e-4, query
    mixture = sf.read(io.BytesIO(upload), dtype="float32", always_2d=True)[0]
    assert np.abs(stems["residual.wav"] + sum(stems[name] for name in names) - mixture).max() < 1e-5

    residual_only = post(server, upload, QUERIES, mode="remove", subtype="FLOAT")
    assert np.array_equal(read(residual_only)[0], stems["residual.wav"])


@pytest.mark.parametrize("mode", ["extract", "remove", "both"])
def test_the_library_answers_what_the_service_answers_in_every_mode(server, bundled, audio_file, mode):
    """`Separator.separate_stems` and POST /separate run the same plan: the same stems, to batching's
    float noise, at the upload's rate and length (44.1 kHz stereo: resampled both ways)."""
    upload, queries = audio_file(5.3, 44100, channels=2, seed=5), ["piano", "a man speaking"]
    mixture, rate = sf.read(io.BytesIO(upload), dtype="float32", always_2d=True)
    library = bundled.separate_stems(mixture.T, rate, queries, mode)
    answer = post(server, upload, queries, mode=mode, subtype="FLOAT")
    served = {"residual.wav": read(answer)[0]} if mode == "remove" else unzip(answer)[0]  # remove: one WAV
    expected = {} if mode == "remove" else {"piano.wav": library.targets[0], "a-man-speaking.wav": library.targets[1]}
    expected["residual.wav"] = library.residual
    assert set(served) == set(expected)
    for name, samples in expected.items():
        assert samples.shape == (2, len(mixture))
        assert np.abs(served[name] - samples.T).max() < 1e-4, name

    one = bundled.separate(mixture.T, rate, "piano", mode="remove" if mode == "remove" else "extract")
    alone = read(separate(server.url, upload, "piano", mode="remove" if mode == "remove" else "extract", subtype="FLOAT"))
    assert np.abs(alone[0] - one.T).max() < 1e-4


MISTAKES = {
    "too many queries": ({"query": ["a", "b", "c", "d"]}, "too_many_queries"),
    "one of them empty": ({"query": ["a dog", " "]}, "invalid_query"),
    "no query": ({}, "missing_query"),
    "unknown mode": ({"query": "a dog", "mode": "isolate"}, "invalid_mode"),
    "stream of several": ({"query": ["a", "b"], "stream": "true"}, "stream_unsupported"),
    "stream of both": ({"query": "a", "mode": "both", "stream": "true"}, "stream_unsupported"),
    "stream of flac": ({"query": "a", "format": "flac", "stream": "true"}, "stream_unsupported"),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_mistakes_in_the_new_fields_are_422(server, audio_file, case):
    form, code = MISTAKES[case]
    answer = httpx.post(server.url + "/separate", files={"file": ("upload", audio_file(0.2, 8000))}, data=form)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == code, answer.text


def test_info_states_the_query_limits(server):
    limits = httpx.get(server.url + "/v1/info").json()["limits"]
    assert limits["max_queries"] == 3 and limits["max_query_audio_seconds"] == 30


def test_an_example_recording_queries_alone_or_with_text(server, audio_file):
    upload, example = audio_file(1.5, 16000, seed=1), audio_file(1, 22050, seed=2)
    by_example = httpx.post(
        server.url + "/separate", files={"file": ("upload", upload), "query_audio": ("dog.wav", example)}, timeout=300
    )
    assert by_example.status_code == 200, by_example.text
    assert by_example.headers["x-embedding-cache"] == "miss"
    both = httpx.post(
        server.url + "/separate",
        files={"file": ("upload", upload), "query_audio": ("dog.wav", example)},
        data={"query": "a humming tone"},
        timeout=300,
    )
    text_only = separate(server.url, upload, "a humming tone")
    assert both.status_code == 200 and read(both)[0].shape == read(by_example)[0].shape == (24000, 1)
    assert not np.array_equal(read(both)[0], read(text_only)[0])  # the example changed the condition


def test_an_example_recording_that_is_too_long_or_not_audio_names_the_field(server, audio_file):
    for example, status, code in [
        (audio_file(31, 8000), 413, "audio_too_long"),
        (b"not audio", 415, "unsupported_audio"),
    ]:
        answer = httpx.post(
            server.url + "/separate",
            files={"file": ("upload", audio_file(0.5, 8000)), "query_audio": ("clip.wav", example)},
            timeout=60,
        )
        assert answer.status_code == status and answer.json()["error"]["code"] == code
        assert answer.json()["error"]["message"].startswith("query_audio: ")

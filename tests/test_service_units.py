"""The service's parts in-process: batcher scheduling (with function workers in place of model
instances), the choice of instances, embedding cache, audio limits, settings, and the routes that
answer without a model (not ready, draining, OpenAPI)."""

import asyncio
import io
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from service import audio
from service.app import MAX_QUERY_AUDIO_SECONDS, create_app
from service.batcher import Batcher, FunctionWorker, InstanceLost, QueueFull, TensorRows, WorkerLost
from service.cache import EmbeddingCache, encoder_text
from service.errors import ApiError
from service.instances import Measurement, choose, cpu_candidates
from service.metrics import Metrics
from service.settings import QUERY_AUDIO_SECONDS, ConfigurationError, Settings, check_model_files, upload_bytes_for

WINDOW = 8


class StartingBatcher(Batcher):
    """A batcher whose `start()` runs `separate` in one function worker (or the given workers)."""

    def __init__(self, separate, **options):
        super().__init__(**options)
        self.separate = separate

    def start(self, workers=None) -> None:
        super().start(workers or [FunctionWorker(self.separate)])


def make_batcher(separate, max_batch=2, max_queue_seconds=100.0, metrics=None):
    return StartingBatcher(
        separate,
        metrics=metrics or Metrics(max_batch),
        max_batch=max_batch,
        max_wait_seconds=0.0,
        sample_rate=WINDOW,  # a chunk is one second of audio
        max_queue_seconds=max_queue_seconds,
    )


def chunks(n: int, value: float) -> torch.Tensor:
    return torch.full((n, WINDOW), value)


def submit(batcher: Batcher, chunks: torch.Tensor, condition: torch.Tensor):
    return batcher.submit(TensorRows(chunks, condition))


def test_batcher_lets_a_short_request_pass_a_long_one():
    batches = []

    def separate(x, conditions):  # records which request each chunk came from
        batches.append(x[:, 0].tolist())
        return x * conditions[:, :1]

    async def scenario():
        batcher = make_batcher(separate)
        long_job = submit(batcher, chunks(6, 1.0), torch.tensor([2.0]))
        short_job = submit(batcher, chunks(1, 5.0), torch.tensor([3.0]))
        batcher.start()
        await asyncio.gather(short_job.done, long_job.done)
        batcher.stop()
        return short_job.results, long_job.results

    short, long = asyncio.run(scenario())
    assert batches[0] == [5.0, 1.0]  # the short request rides in the very first batch, ahead
    assert [len(batch) for batch in batches] == [2, 2, 2, 1]
    assert torch.equal(short, chunks(1, 15.0)) and torch.equal(long, chunks(6, 2.0))  # each its own condition


def run_in_order(jobs: list[tuple[torch.Tensor, float]], waited_s: list[float]) -> list[float]:
    """The order (by chunk value) in which one-chunk batches ran, for jobs submitted in the given
    order after having waited `waited_s` each."""
    ran = []

    def separate(x, conditions):
        ran.append(x[0, 0].item())
        return x

    async def scenario():
        batcher = make_batcher(separate, max_batch=1)
        submitted = [submit(batcher, job_chunks, torch.zeros(1)) for job_chunks, _ in jobs]
        for job, waited in zip(submitted, waited_s):
            job.submitted_at -= waited
        batcher.start()
        await asyncio.gather(*(job.done for job in submitted))
        batcher.stop()

    asyncio.run(scenario())
    return ran


def test_batcher_runs_the_earliest_deadline_first_so_short_jobs_overtake_and_long_ones_cannot_starve():
    long_then_short = [(chunks(3, 1.0), 0), (chunks(1, 5.0), 0)]
    assert run_in_order(long_then_short, [0, 0]) == [5.0, 1.0, 1.0, 1.0]  # the short job is due first
    # The long job has waited STRETCH times its work (3 chunks of 8 samples at under 1e-4 s per sample)
    # and more: it is due before a newcomer.
    assert run_in_order(long_then_short, [1.0, 0]) == [1.0, 1.0, 1.0, 5.0]


def test_batcher_batches_hold_chunks_of_one_length():
    lengths = []

    def separate(x, conditions):
        lengths.append(x.shape)
        return x

    async def scenario():
        batcher = make_batcher(separate, max_batch=4)
        jobs = [submit(batcher, torch.ones(3, size), torch.zeros(1)) for size in (WINDOW, WINDOW // 2, WINDOW)]
        batcher.start()
        await asyncio.gather(*(job.done for job in jobs))
        batcher.stop()
        return [job.results for job in jobs]

    results = asyncio.run(scenario())
    assert [result.shape for result in results] == [(3, WINDOW), (3, WINDOW // 2), (3, WINDOW)]
    assert sorted(shape[0] for shape in lengths if shape[1] == WINDOW) == [2, 4]
    assert [shape[0] for shape in lengths if shape[1] == WINDOW // 2] == [3]


def test_auto_tries_every_way_to_fill_the_cores_and_keeps_what_is_set():
    assert cpu_candidates(2, "auto", "auto") == [(2, 1), (1, 2)]
    assert cpu_candidates(16, "auto", "auto") == [(8, 1), (8, 2), (4, 4), (2, 8), (1, 16)]  # at most 8 copies
    assert cpu_candidates(16, 4, "auto") == [(4, 4)] and cpu_candidates(16, "auto", 2) == [(8, 2)]
    assert cpu_candidates(2, 3, 1) == [(3, 1)]


@pytest.mark.parametrize(
    "speeds, chosen",
    [
        ({(2, 1): [90, 80], (1, 2): [60, 58]}, (2, 1, 1)),  # two single-threaded instances beat one wide one
        ({(2, 1): [40, 38], (1, 2): [60, 75, 74]}, (1, 2, 4)),  # ... or not; within 5 %, the larger batch
        ({(2, 1): [90, 95], (1, 2): [100, 110]}, (2, 1, 2)),  # wider wins only by more than 20 %
        ({(1, 1): [10, 19, 37, 70, 71]}, (1, 1, 16)),  # GPU-like: a batch costs what one chunk costs
    ],
)
def test_auto_chooses_the_best_throughput_each_configuration_at_its_largest_batch_near_its_best(speeds, chosen):
    """...and prefers single-threaded instances unless wider ones are clearly faster: a wide forward
    pass stalls beside the HTTP process's work, which warm-up does not see."""
    table = [
        Measurement(count, threads, 2**i, speed)
        for (count, threads), by_size in speeds.items()
        for i, speed in enumerate(by_size)
    ]
    assert choose(table)[:3] == chosen


def test_a_batch_whose_instance_dies_runs_again_once_then_its_request_gets_503_instance_lost():
    class Dying:
        """A worker whose process dies on its first `deaths` batches, then serves."""

        name, lost = "0", False

        def __init__(self, deaths: int):
            self.deaths, self.recoveries = deaths, 0

        def run(self, batch):
            if self.deaths:
                self.deaths -= 1
                self.lost = True
                raise WorkerLost("killed by SIGKILL")
            return batch.chunks() * 2

        def recover(self):
            self.lost, self.recoveries = False, self.recoveries + 1

    async def scenario(deaths: int):
        batcher, worker = make_batcher(None, max_batch=4), Dying(deaths)
        job = submit(batcher, chunks(3, 1.0), torch.zeros(1))
        batcher.start([worker])
        try:
            await job.done
            return job.results, worker.recoveries
        finally:
            batcher.stop()

    result, recoveries = asyncio.run(scenario(deaths=1))
    assert torch.equal(result, chunks(3, 2.0)) and recoveries == 1
    with pytest.raises(InstanceLost) as lost:
        asyncio.run(scenario(deaths=2))
    assert (lost.value.status_code, lost.value.code) == (503, "instance_lost")
    assert "died twice (killed by SIGKILL)" in lost.value.detail and lost.value.headers["Retry-After"]


def test_every_worker_takes_from_the_one_queue():
    ran = {"a": 0, "b": 0}

    def worker(name):
        def separate(x, conditions):
            ran[name] += len(x)
            time.sleep(0.01)  # a forward pass: the other worker takes the next batch meanwhile
            return x

        return FunctionWorker(separate, name)

    async def scenario():
        batcher = make_batcher(None, max_batch=1)
        job = submit(batcher, chunks(20, 1.0), torch.zeros(1))
        batcher.start([worker("a"), worker("b")])
        await job.done
        batcher.stop()
        return job.results

    assert torch.equal(asyncio.run(scenario()), chunks(20, 1.0))
    assert ran["a"] + ran["b"] == 20 and min(ran.values()) >= 5


def test_batcher_drops_the_queued_chunks_of_a_cancelled_request():
    running, release = threading.Event(), threading.Event()

    def separate(x, conditions):
        running.set()
        release.wait(10)
        return x

    metrics = Metrics(1)

    async def scenario():
        batcher = make_batcher(separate, max_batch=1, metrics=metrics)
        job = submit(batcher, chunks(5, 1.0), torch.tensor([1.0]))
        batcher.start()
        await asyncio.to_thread(running.wait, 10)
        batcher.cancel(job)  # chunk 0 is running; chunks 1-4 are dropped
        release.set()
        batcher.stop()
        return job

    job = asyncio.run(scenario())
    assert not job.done.done()
    assert sample(metrics, "textsep_dropped_chunks_total") == 4
    assert sample(metrics, "textsep_queue_chunks") == 0 and sample(metrics, "textsep_batcher_requests") == 0


def test_batcher_queue_is_bounded_in_audio_seconds_but_admits_into_an_empty_queue():
    async def scenario():
        batcher = make_batcher(lambda x, c: x, max_queue_seconds=3.0)  # chunk_seconds = 1
        submit(batcher, chunks(5, 0.0), torch.zeros(1))  # alone: admitted though over the bound
        with pytest.raises(QueueFull) as refused:
            submit(batcher, chunks(1, 0.0), torch.zeros(1))
        return refused.value.retry_after_s

    assert asyncio.run(scenario()) >= 1


def test_cache_gives_the_encoder_the_query_as_typed_trimmed_and_encodes_a_burst_of_misses_in_one_call():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return torch.stack([torch.full((2,), float(len(text))) for text in texts])

    metrics = Metrics(1)

    async def scenario():
        cache = EmbeddingCache(embed, "encoder", size=2, metrics=metrics)
        burst = await asyncio.gather(*(cache.get(q) for q in ["A Dog  Barking", "a cat", " A Dog  Barking\n"]))
        again = await cache.get("a dog barking")  # another text for a case-sensitive encoder: its own entry
        await cache.get("a bird")  # evicts the least recently used entry ("a cat")
        evicted = await cache.get("a cat")
        return burst, again, evicted

    burst, again, evicted = asyncio.run(scenario())
    assert calls[0] == ["A Dog  Barking", "a cat"]  # one call for the burst; the third is the first, trimmed
    assert [hit for _, hit in burst] == [False, False, False] and torch.equal(burst[2][0], burst[0][0])
    assert again[1] is False and calls[1] == ["a dog barking"]
    assert evicted[1] is False and calls[-1] == ["a cat"]
    assert sample(metrics, "textsep_embedding_cache_hits_total") == 0
    assert sample(metrics, "textsep_embedding_cache_misses_total") == 6
    assert encoder_text("  Rain\n ON   a roof ") == "Rain\n ON   a roof"


def sample(metrics: Metrics, name: str) -> float:
    """A metric's value through the registry's public API, as /metrics would show it."""
    return metrics.registry.get_sample_value(name)


def decode(data: bytes, max_seconds=10.0, max_channels=2):
    return audio.decode(io.BytesIO(data), audio.Limits(max_seconds=max_seconds, max_channels=max_channels))


def test_decode_gives_float_channels_first(audio_file):
    upload = decode(audio_file(0.5, 22050, 2))
    assert upload.samples.dtype == np.float32 and upload.samples.shape == (2, 11025) and upload.sample_rate == 22050


@pytest.mark.parametrize(
    "make, status, code",
    [
        (lambda a: a(11, 8000), 413, "audio_too_long"),
        (lambda a: a(0.1, 8000, 3), 413, "too_many_channels"),
        (lambda a: b"RIFF and then nothing useful", 415, "unsupported_audio"),
        (lambda a: a(1, 8000)[:40], 415, "unsupported_audio"),
        (lambda a: a(0, 8000), 422, "empty_audio"),
    ],
    ids=["too long", "too many channels", "not audio", "truncated header", "no samples"],
)
def test_decode_refuses(audio_file, make, status, code):
    with pytest.raises(ApiError) as refused:
        decode(make(audio_file))
    assert (refused.value.status_code, refused.value.code) == (status, code)


def test_encode_round_trips_and_flac_refuses_float():
    samples = np.linspace(-0.5, 0.5, 2 * 100, dtype=np.float32).reshape(2, 100)
    decoded, rate = sf.read(io.BytesIO(audio.encode(samples, 12345, "flac", "PCM_16")), always_2d=True)
    assert rate == 12345 and np.abs(decoded.T - samples).max() < 1e-4
    with pytest.raises(ApiError) as refused:
        audio.check_output("flac", "FLOAT")
    assert refused.value.status_code == 422


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("TEXTSEP_MAX_BATCH", "3")
    settings = Settings()
    assert (settings.port, settings.max_batch) == (8123, 3)
    assert all(field.description for field in Settings.model_fields.values())


def test_the_default_byte_limit_follows_the_duration_limit_and_covers_it():
    ten_minutes = Settings()
    assert ten_minutes.max_seconds == 600
    # 600 s of 16-bit stereo 48 kHz WAV (its 44-byte header too), a 30 s query recording of the same kind, the form
    assert ten_minutes.max_upload_bytes >= (600 + 30) * 48000 * 2 * 2 + 2 * 44 + 8 * 512 + 100_000
    assert f"({ten_minutes.max_upload_bytes} bytes" in Settings.model_fields["max_upload_bytes"].description
    assert Settings(max_seconds=60).max_upload_bytes == upload_bytes_for(60) < ten_minutes.max_upload_bytes
    assert Settings(max_upload_bytes=1234).max_upload_bytes == 1234  # set, it is what it says
    assert QUERY_AUDIO_SECONDS == MAX_QUERY_AUDIO_SECONDS


@pytest.mark.parametrize(
    "channels, seconds, code, setting",
    [(3, 1, "too_many_channels", "TEXTSEP_MAX_CHANNELS"), (1, 11, "audio_too_long", "TEXTSEP_MAX_SECONDS")],
)
def test_an_upload_over_a_limit_is_told_which_setting_raises_it(channels, seconds, code, setting):
    with pytest.raises(ApiError) as refused:
        audio.Limits.from_settings(Settings(max_seconds=10, max_channels=2)).check(channels, seconds)
    assert (refused.value.status_code, refused.value.code) == (413, code)
    assert refused.value.detail.endswith(f"(set {setting} to raise it)")
    with pytest.raises(ApiError) as fixed:  # a fixed limit (the query recording's) names no setting
        audio.Limits(max_seconds=10, max_channels=2).check(channels, seconds)
    assert "TEXTSEP_" not in fixed.value.detail


def test_every_missing_model_file_is_named_with_its_variable_and_release_file(tmp_path):
    with pytest.raises(ConfigurationError) as unset:
        check_model_files(Settings(model="audiosep"))
    for variable, release in [
        ("TEXTSEP_AUDIOSEP_CHECKPOINT is not set", "audiosep_base_4M_steps.ckpt"),
        ("TEXTSEP_CLAP_CHECKPOINT is not set", "music_speech_audioset_epoch_15_esc_89.98.pt"),
        ("TEXTSEP_CLAP_TOKENIZER_DIR is not set", "vocab.json and merges.txt"),
    ]:
        assert variable in str(unset.value) and release in str(unset.value)
    settings = Settings(
        model="audiosep",
        audiosep_checkpoint=tmp_path / "ss.ckpt",
        clap_checkpoint=tmp_path / "clap.pt",
        clap_tokenizer_dir=tmp_path,
    )
    with pytest.raises(ConfigurationError, match="needs files that are not there") as missing:
        check_model_files(settings)
    assert "ss.ckpt: not found" in str(missing.value) and "clap.pt: not found" in str(missing.value)
    assert "TEXTSEP_CLAP_TOKENIZER_DIR" not in str(missing.value)  # that one exists


@pytest.fixture
def client_without_model():
    """The app as in its first seconds: no `with`, so the lifespan (model loading) never runs."""
    app = create_app(Settings())
    return app, TestClient(app)


def test_not_ready_and_draining_answer_503(client_without_model, audio_file):
    app, client = client_without_model
    form = {"files": {"file": ("a.wav", audio_file(0.2, 8000))}, "data": {"query": "a dog"}}
    assert client.get("/healthz").status_code == 200
    assert (client.get("/readyz").status_code, client.get("/readyz").json()) == (503, {"status": "loading model"})
    refused = client.post("/separate", **form)
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "not_ready"
    app.state.runtime.drain()
    assert client.get("/readyz").json() == {"status": "draining"}
    assert client.post("/separate", **form).status_code == 503


def test_openapi_documents_the_form_the_answers_and_the_errors(client_without_model):
    app, _ = client_without_model
    spec = app.openapi()
    separate = spec["paths"]["/separate"]["post"]
    form_ref = separate["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][form_ref]["properties"]
    assert set(fields) == {"file", "query", "query_audio", "mode", "stream", "format", "subtype"}
    assert all(field.get("description") for field in fields.values())
    assert fields["query"]["anyOf"][0]["items"]["maxLength"] == 512  # a list: the field may be repeated
    answers = separate["responses"]
    assert set(answers) == {"200", "400", "401", "408", "413", "415", "422", "503"}
    assert {"audio/wav", "audio/flac", "application/zip"} <= set(answers["200"]["content"])
    assert {"X-Request-ID", "X-Embedding-Cache", "Server-Timing"} <= set(answers["200"]["headers"])
    assert answers["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert {"/healthz", "/readyz", "/metrics", "/v1/info"} <= set(spec["paths"])
    assert spec["paths"]["/v1/info"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/Info")

"""The page at `/` in a real browser: Playwright drives Debian's headless Chromium (installed by
`make system-deps`; no browser download) against a real server on loopback."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from live import REPO, Server, separate
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / ".cache/artifacts"
EXAMPLE = REPO / "examples/speech-and-piano.wav"
EXCERPT_SECONDS = 3.0
SEPARATION_TIMEOUT_MS = 120_000  # two shared cores
API_KEY = "page-test-key"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """An open server and one that needs API_KEY, started together so that their loading overlaps."""
    log_dir = tmp_path_factory.mktemp("page")
    fixed_batch = {"TEXTSEP_MAX_BATCH": "4"}  # no `auto`: its warm-up times every batch size
    with (
        Server(log_dir, **fixed_batch) as open_server,
        Server(log_dir, **fixed_batch, TEXTSEP_API_KEYS=API_KEY) as locked_server,
    ):
        yield open_server.wait_ready(), locked_server.wait_ready()


@pytest.fixture(scope="module")
def server(servers):
    return servers[0]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root (containers, CI). The fake media
        # flags give the page a microphone (a generated beep) without a permission prompt.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """The page, loaded and showing the model; `page.requested` is every URL it asked for and
    `page.failed` every answer of 400 or more (a missing favicon, say)."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.requested, page.failed = [], []
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("response", lambda response: response.status >= 400 and page.failed.append(response.url))
    page.goto(server.url)
    expect(page.locator("#model")).to_contain_text("Model: bundled")
    yield page
    page.close()


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory) -> tuple[Path, int]:
    """The first EXCERPT_SECONDS of the example mixture (speech and piano), and its length in frames."""
    path = tmp_path_factory.mktemp("excerpt") / "mixture.wav"
    samples, rate = sf.read(EXAMPLE, always_2d=True)
    sf.write(path, samples[: int(EXCERPT_SECONDS * rate)], rate)
    return path, int(EXCERPT_SECONDS * rate)


def canvas_pixels(page: Page, canvas_id: str) -> dict:
    """How many pixels the canvas has, how many are opaque, and how many distinct colours it shows."""
    return page.evaluate(
        """id => {
            const canvas = document.getElementById(id);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            const colours = new Set();
            let opaque = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] === 255) opaque++;
                colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
            }
            return {pixels: data.length / 4, opaque, colours: colours.size};
        }""",
        canvas_id,
    )


def assert_spectrogram_drawn(page: Page, canvas_id: str) -> None:
    drawn = canvas_pixels(page, canvas_id)
    assert drawn["pixels"] > 10_000 and drawn["opaque"] == drawn["pixels"], drawn
    assert drawn["colours"] > 100, f"{canvas_id} looks flat: {drawn}"


def audio_duration(page: Page, audio_id: str) -> float:
    # Functions, not expressions: the page's Content-Security-Policy forbids evaluating strings.
    page.wait_for_function(
        "id => document.getElementById(id)?.duration > 0", arg=audio_id, timeout=SEPARATION_TIMEOUT_MS
    )
    return page.evaluate("id => document.getElementById(id).duration", audio_id)


def test_separates_an_upload_and_shows_both_sounds(page, server, tmp_path):
    mixture = tmp_path / "mixture.wav"
    samples, rate = sf.read(EXAMPLE, always_2d=True)
    samples = samples[: int(EXCERPT_SECONDS * rate)]
    sf.write(mixture, samples, rate)

    expect(page.locator("#rate-note")).to_have_text(re.compile(r"works at 16 kHz: nothing above 8 kHz comes back"))
    page.set_input_files("#file", mixture)
    expect(page.locator("#file-name")).to_contain_text("mixture.wav")
    page.get_by_role("button", name="a man speaking").click()
    expect(page.locator("#query")).to_have_value("a man speaking")
    page.get_by_role("button", name="Separate").click()

    assert audio_duration(page, "stem-audio-0") == pytest.approx(len(samples) / rate, abs=0.01)
    assert audio_duration(page, "input-audio") == pytest.approx(len(samples) / rate, abs=0.01)
    expect(page.locator("#stem-spectrogram-0")).to_have_attribute("data-drawn", "true")
    assert_spectrogram_drawn(page, "input-spectrogram")
    assert_spectrogram_drawn(page, "stem-spectrogram-0")
    expect(page.locator("#timing")).to_have_text(re.compile(r"Took [\d.]+ s \(server: decode .*inference \d+ ms"))
    expect(page.get_by_role("alert")).to_be_empty()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download a-man-speaking.wav").click()
    assert download.value.suggested_filename == "a-man-speaking.wav"
    result = sf.info(download.value.path())
    assert (result.frames, result.samplerate, result.channels) == (len(samples), rate, samples.shape[1])

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "page.png", full_page=True)
    foreign = [url for url in page.requested if not url.startswith((server.url + "/", "blob:", "data:"))]
    assert not foreign, f"the page fetched from outside the server: {foreign}"
    assert f"{server.url}/static/favicon.svg" in page.requested and not page.failed, page.failed


def test_shows_what_is_wrong_in_words(page, server, tmp_path):
    separate_button = page.get_by_role("button", name="Separate")
    alert = page.get_by_role("alert")
    separate_button.click()
    expect(alert).to_have_text("Choose, drop or record an audio file first.")

    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not audio\n")
    page.set_input_files("#file", notes)
    expect(page.locator("#input-note")).to_contain_text("cannot preview")
    separate_button.click()
    expect(alert).to_have_text("Describe the sound, click one of the examples, or give an example recording.")

    page.fill("#query", "piano")
    separate_button.click()
    api_error = separate(server.url, notes.read_bytes(), "piano").json()["error"]
    expect(alert).to_contain_text("The server cannot read this file as audio")
    expect(alert).to_contain_text(api_error["message"])
    expect(page.locator("#stems audio")).to_have_count(0)


def test_records_from_the_microphone(page):
    started = time.monotonic()
    page.get_by_role("button", name="Record from the microphone").click()
    stop = page.get_by_role("button", name="Stop recording")
    expect(stop).to_have_attribute("aria-pressed", "true")  # recording from here on
    page.wait_for_timeout(1000)
    stop.click()
    stopped = time.monotonic()
    expect(page.locator("#file-name")).to_contain_text("recording.wav")
    assert 0.9 < audio_duration(page, "input-audio") < stopped - started + 0.1
    expect(page.locator("#input-spectrogram")).to_have_attribute("data-drawn", "true")
    assert_spectrogram_drawn(page, "input-spectrogram")


def test_the_page_stays_out_of_the_api_schema(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert httpx.get(server.url + "/static/app.js").status_code == 200
    icon = httpx.get(server.url + "/favicon.ico")  # what a browser asks for on a page that names no icon
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert not {"/", "/favicon.ico", "/docs", "/redoc"} & set(paths)
    missing = httpx.get(server.url + "/static/missing.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_sends_the_api_key_the_user_gives(browser, servers, tmp_path, audio_file):
    page = browser.new_page()
    page.goto(servers[1].url)
    expect(page.locator("#model")).to_contain_text("This server needs a valid API key")
    expect(page.locator("#api-key-box")).to_have_attribute("open", "")
    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Tab")  # leaving the field saves the key and asks for /v1/info again
    expect(page.locator("#model")).to_contain_text("Model: bundled")

    upload = tmp_path / "tone.wav"
    upload.write_bytes(audio_file(1.0, 16000))
    page.set_input_files("#file", upload)
    page.fill("#query", "piano")
    page.get_by_role("button", name="Separate").click()
    assert audio_duration(page, "stem-audio-0") == pytest.approx(1.0, abs=0.01)
    page.close()


MODE_LABELS = {"extract": "extract it", "remove": "remove it", "both": "Both"}  # the radio buttons' labels


def separate_on_the_page(page: Page, mixture: Path, queries: list[str], mode: str = "extract") -> list[str]:
    """Fill the form (one query field per query) and separate; the stems' names, as the page shows them."""
    page.set_input_files("#file", mixture)
    for number, query in enumerate(queries):
        if number:
            page.get_by_role("button", name="Add another sound").click()
        page.get_by_role("group", name="Queries").locator("input").nth(number).fill(query)
    page.get_by_role("radio", name=re.compile(MODE_LABELS[mode])).check()
    page.get_by_role("button", name="Separate").click()
    expect(page.locator("#timing")).to_have_text(re.compile("Took"), timeout=SEPARATION_TIMEOUT_MS)
    return page.locator("#stems figure").evaluate_all("figures => figures.map(f => f.dataset.stem)")


def assert_stems_play_and_download(page: Page, names: list[str], frames: int, rate: int = 44100) -> None:
    for index, name in enumerate(names):
        assert audio_duration(page, f"stem-audio-{index}") == pytest.approx(frames / rate, abs=0.01), name
        expect(page.locator(f"#stem-spectrogram-{index}")).to_have_attribute("data-drawn", "true")
        with page.expect_download() as download:
            page.get_by_role("link", name=f"Download {name}").click()
        assert download.value.suggested_filename == name
        assert sf.info(download.value.path()).frames == frames
    expect(page.get_by_role("alert")).to_be_empty()


@pytest.mark.parametrize(
    "mode, stems",
    [("remove", ["residual.wav"]), ("both", ["piano.wav", "residual.wav"])],
)
def test_removes_a_sound_or_answers_both_modes(page, excerpt, mode, stems):
    mixture, frames = excerpt
    assert separate_on_the_page(page, mixture, ["piano"], mode) == stems
    assert_stems_play_and_download(page, stems, frames)
    zip_link = page.get_by_role("link", name="Download all (ZIP)")
    if mode == "both":
        with page.expect_download() as download:
            zip_link.click()
        with zipfile.ZipFile(download.value.path()) as archive:
            assert sorted(archive.namelist()) == ["manifest.json", "piano.wav", "residual.wav"]
    else:
        expect(zip_link).to_be_hidden()


def test_several_queries_come_back_as_one_player_each_and_the_rest(page, excerpt):
    mixture, frames = excerpt
    names = separate_on_the_page(page, mixture, ["a man speaking", "Piano"])
    assert names == ["a-man-speaking.wav", "piano.wav", "residual.wav"]
    expect(page.locator("#stems figcaption").first).to_contain_text("a man speaking")
    assert_stems_play_and_download(page, names, frames)
    page.get_by_role("button", name="Remove sound 2").click()  # back to one query field
    expect(page.get_by_role("group", name="Queries").locator("input")).to_have_count(1)


def test_queries_by_an_example_recording(page, excerpt, tmp_path):
    mixture, frames = excerpt
    example = tmp_path / "speech-example.wav"
    samples, rate = sf.read(EXAMPLE.with_suffix(".speech.wav"), always_2d=True)
    sf.write(example, samples[: 2 * rate], rate)
    page.set_input_files("#query-audio", example)
    assert separate_on_the_page(page, mixture, []) == ["query-audio.wav"]
    assert_stems_play_and_download(page, ["query-audio.wav"], frames)

    page.fill("#query", "a man speaking")  # with one description too: both describe the sound
    page.get_by_role("button", name="Add another sound").click()
    page.locator("#query-2").fill("piano")
    page.get_by_role("button", name="Separate").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("An example recording goes with one description"))


def stop_what_would_leave(page: Page, server: Server) -> list[str]:
    """Every URL the page sends a request to outside the server (each is aborted, so the test runs
    offline too). A request the page's Content-Security-Policy blocks never gets this far."""
    escaped = []

    def route(route) -> None:
        if route.request.url.startswith((server.url + "/", "blob:", "data:")):
            route.continue_()
        else:
            escaped.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return escaped


@pytest.mark.parametrize(
    "path, operation",
    [("/docs", "#operations-default-separate_separate_post"), ("/redoc", "text=Extract or remove the sounds")],
    ids=["swagger-ui", "redoc"],
)
def test_the_api_docs_render_with_no_request_leaving_the_server(browser, server, path, operation):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    escaped, requested, blocked = stop_what_would_leave(page, server), [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    page.goto(server.url + path)
    expect(page.locator(operation).first).to_be_visible()
    expect(page.get_by_text("/separate").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"docs{path.replace('/', '-')}.png")
    page.close()
    assert not escaped, f"the docs sent requests outside the server: {escaped}"
    assert f"{server.url}/openapi.json" in requested
    # The policy may stop a foreign URL (ReDoc's footer logo is on its CDN), never the docs' own parts.
    assert all("https://" in text and server.url not in text for text in blocked), blocked


def test_suggests_the_sounds_the_model_knows(page, server):
    known = httpx.get(server.url + "/v1/info").json()["vocabulary"]
    expect(page.locator("#vocabulary")).to_be_visible()
    expect(page.locator("#vocabulary")).to_contain_text(f"This model knows {len(known)} sounds: speech, piano")
    assert page.locator("#known-sounds option").evaluate_all("options => options.map(o => o.value)") == known
    page.get_by_role("button", name="Add another sound").click()
    assert page.get_by_role("group", name="Queries").locator("input").evaluate_all(
        "inputs => inputs.map(input => input.list && input.list.id)"
    ) == ["known-sounds", "known-sounds"]  # every query field suggests them

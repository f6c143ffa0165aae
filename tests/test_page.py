"""The page at `/` in a real browser: Playwright drives Debian's headless Chromium (installed by
`make system-deps`; no browser download) against a real server on loopback."""

from __future__ import annotations

import re
import time

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
    """The page, loaded and showing the model; `page.requested` is every URL it asked for."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(server.url)
    expect(page.locator("#model")).to_contain_text("Model: bundled")
    yield page
    page.close()


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
        "id => document.getElementById(id).duration > 0", arg=audio_id, timeout=SEPARATION_TIMEOUT_MS
    )
    return page.evaluate("id => document.getElementById(id).duration", audio_id)


def test_separates_an_upload_and_shows_both_sounds(page, server, tmp_path):
    mixture = tmp_path / "mixture.wav"
    samples, rate = sf.read(EXAMPLE, always_2d=True)
    samples = samples[: int(EXCERPT_SECONDS * rate)]
    sf.write(mixture, samples, rate)

    page.set_input_files("#file", mixture)
    expect(page.locator("#file-name")).to_contain_text("mixture.wav")
    page.get_by_role("button", name="a man speaking").click()
    expect(page.locator("#query")).to_have_value("a man speaking")
    page.get_by_role("button", name="Separate").click()

    assert audio_duration(page, "result-audio") == pytest.approx(len(samples) / rate, abs=0.01)
    assert audio_duration(page, "input-audio") == pytest.approx(len(samples) / rate, abs=0.01)
    expect(page.locator("#result-spectrogram")).to_have_attribute("data-drawn", "true")
    assert_spectrogram_drawn(page, "input-spectrogram")
    assert_spectrogram_drawn(page, "result-spectrogram")
    expect(page.locator("#timing")).to_have_text(re.compile(r"Took [\d.]+ s \(server: decode .*inference \d+ ms"))
    expect(page.get_by_role("alert")).to_be_empty()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "a-man-speaking.wav"
    result = sf.info(download.value.path())
    assert (result.frames, result.samplerate, result.channels) == (len(samples), rate, samples.shape[1])

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "page.png", full_page=True)
    foreign = [url for url in page.requested if not url.startswith((server.url + "/", "blob:", "data:"))]
    assert not foreign, f"the page fetched from outside the server: {foreign}"


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
    expect(alert).to_have_text("Describe the sound to extract, or click one of the examples.")

    page.fill("#query", "piano")
    separate_button.click()
    api_error = separate(server.url, notes.read_bytes(), "piano").json()["error"]
    expect(alert).to_contain_text("The server cannot read this file as audio")
    expect(alert).to_contain_text(api_error["message"])
    expect(page.locator("#result-audio")).not_to_have_attribute("src", re.compile("."))


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
    assert "/" not in httpx.get(server.url + "/openapi.json").json()["paths"]
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
    assert audio_duration(page, "result-audio") == pytest.approx(1.0, abs=0.01)
    page.close()

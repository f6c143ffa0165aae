// The page behind `/`: pick audio (file, drop or microphone), send it to POST /separate with one or
// more queries and/or an example recording, in any mode (extract, remove, both), and show every
// sound that comes back with a player, a spectrogram and a download. Everything runs here, served by
// the service: no libraries, no CDN. Spectrograms: Web Audio decodes, a small STFT below, drawn on
// <canvas>. Several stems come as a ZIP (stored, not compressed), read by the small reader below.
"use strict";

const SPECTRUM_RATE = 16000; // decode for display at 16 kHz: 0-8 kHz shows speech and most instruments
const FFT_SIZE = 512;
const MAX_COLUMNS = 800; // a long upload gets a longer hop, not a wider canvas
const DYNAMIC_RANGE_DB = 80;
const RECORDING_RATE = 48000;
const INFO_RETRY_MS = 2000;
const API_KEY = "textsep-api-key"; // sessionStorage: forgotten when the tab closes
// Low to high loudness: black, purple, red, orange, pale yellow (close to matplotlib's magma).
const COLORMAP = [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]];
// What each status means for someone using the page; the API's own message follows it.
const STATUS_MEANINGS = {
  400: "The request was malformed",
  401: "This server needs a valid API key (see “API key” at the top)",
  403: "This API key is not allowed to do that",
  413: "The upload is too big or too long for this server",
  415: "The server cannot read this file as audio",
  422: "Please check the input",
  429: "Too many requests",
  503: "The server is busy or not ready",
};

const $ = (id) => document.getElementById(id);
const state = { file: null, inputLevel: null, urls: [], maxQueries: 8, lastQuery: null, queriesAdded: 1 };

// ---- the server: info, requests, errors -------------------------------------------------------

function authorization() {
  const key = sessionStorage.getItem(API_KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function showModel() {
  let response;
  try {
    response = await fetch("/v1/info", { headers: authorization() });
  } catch {
    $("model").textContent = "Cannot reach the server; retrying…";
    setTimeout(showModel, INFO_RETRY_MS);
    return;
  }
  if (response.status === 503) {
    $("model").textContent = "The model is loading…";
    setTimeout(showModel, INFO_RETRY_MS);
    return;
  }
  if (!response.ok) {
    $("model").textContent = await describeFailure(response.status, await response.blob());
    return; // typing a key asks again
  }
  const info = await response.json();
  $("model").textContent =
    `Model: ${info.model} · text encoder: ${info.text_encoder} · ${info.device}, ${info.dtype} · ` +
    `${info.sample_rate / 1000} kHz`;
  // What the model's rate means for what comes back: the answer keeps the upload's rate, but no
  // sound above half the model's rate survives the trip through it; the residual, being the upload
  // minus what was extracted, keeps all of it.
  const nyquist = `${info.sample_rate / 2000} kHz`;
  $("rate-note").textContent =
    `This model works at ${info.sample_rate / 1000} kHz: nothing above ${nyquist} comes back in an ` +
    "extracted sound, so it sounds duller than the upload (no cymbal shimmer, sibilance or air). " +
    `“Everything else” is the upload minus it, so it keeps all that is above ${nyquist}, the removed ` +
    "sound's highs included.";
  $("rate-note").hidden = false;
  $("formats").textContent =
    `${info.input_formats.map((format) => format.toUpperCase()).join(", ")}; ` +
    `up to ${info.limits.max_seconds} s and ${Math.floor(info.limits.max_upload_bytes / 1e6)} MB`;
  $("query-audio-limit").textContent = info.limits.max_query_audio_seconds;
  state.maxQueries = info.limits.max_queries;
  updateAddQuery();
  showVocabulary(info);
}

// The sounds a closed-vocabulary model knows (`info.vocabulary`, null for an open one): listed
// under the queries, and offered as suggestions in every query field (a <datalist>). An
// open-vocabulary model (AudioSep) takes any description, so nothing is shown.
function showVocabulary(info) {
  const known = info.vocabulary ?? [];
  $("known-sounds").replaceChildren(...known.map((label) => Object.assign(document.createElement("option"), { value: label })));
  $("vocabulary").hidden = known.length === 0;
  $("vocabulary").textContent =
    `This model knows ${known.length} sounds: ${known.join(", ")}. ` +
    "Describe one of them in your own words; a query for another sound is refused.";
}

// A failed answer in words: what the status means, then the API's own message. A 401 also opens
// the API key field.
async function describeFailure(status, body, retryAfter) {
  if (status === 401) $("api-key-box").open = true;
  const meaning = STATUS_MEANINGS[status] ?? `The server answered ${status}`;
  const wait = retryAfter ? ` Try again in ${retryAfter} s.` : "";
  try {
    const { message } = JSON.parse(await body.text()).error;
    return `${meaning}: ${message.replace(/\.$/, "")}.${wait}`;
  } catch {
    return `${meaning}.${wait}`; // not the API's JSON: from a proxy in between, say
  }
}

// XMLHttpRequest rather than fetch: it reports upload progress.
function post(form) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/separate");
    request.responseType = "blob";
    for (const [name, value] of Object.entries(authorization())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const share = event.loaded / event.total;
      showProgress(`Uploading… ${Math.round(100 * share)} %`, share);
    };
    request.upload.onload = () => showProgress("Separating…", null);
    request.onload = () => resolve(request);
    request.onerror = () => reject(new Error("The server could not be reached."));
    request.send(form);
  });
}

function queryInputs() {
  return [...$("queries").querySelectorAll("input")];
}

async function separate(event) {
  event.preventDefault();
  showError("");
  const queries = queryInputs().map((input) => input.value.trim()).filter(Boolean);
  const example = $("query-audio").files[0];
  const mode = new FormData($("separate-form")).get("mode");
  if (!state.file) return showError("Choose, drop or record an audio file first.");
  if (!queries.length && !example) {
    return showError("Describe the sound, click one of the examples, or give an example recording.");
  }
  if (example && queries.length > 1) {
    return showError("An example recording goes with one description at most: remove the others or the example.");
  }
  const form = new FormData();
  form.append("file", state.file, state.file.name);
  for (const query of queries) form.append("query", query);
  if (example) form.append("query_audio", example, example.name);
  form.append("mode", mode);
  clearResult();
  $("submit").disabled = true;
  showProgress("Uploading…", 0);
  const started = performance.now();
  try {
    const answer = await post(form);
    if (answer.status !== 200) {
      const retryAfter = answer.getResponseHeader("Retry-After");
      return showError(await describeFailure(answer.status, answer.response, retryAfter));
    }
    await showResult(answer, queries, mode, (performance.now() - started) / 1000);
  } catch (error) {
    showError(error.message);
  } finally {
    $("submit").disabled = false;
    showProgress("", undefined);
  }
}

// ---- what the page shows ----------------------------------------------------------------------

function showError(message) {
  $("error").textContent = message;
}

// fraction: 0-1 for a known share, null for "working, no idea how far", undefined to hide.
function showProgress(text, fraction) {
  const bar = $("progress");
  $("status").textContent = text;
  bar.hidden = fraction === undefined;
  if (fraction === null) bar.removeAttribute("value");
  else if (fraction !== undefined) bar.value = fraction;
}

// A blob: URL for the audio the page holds; the result's URLs are let go with the result.
function blobUrl(blob, forResult = true) {
  const url = URL.createObjectURL(blob);
  if (forResult) state.urls.push(url);
  return url;
}

function play(audioId, blob) {
  URL.revokeObjectURL($(audioId).dataset.url);
  const url = blobUrl(blob, false);
  $(audioId).dataset.url = url;
  $(audioId).src = url;
}

function clearResult() {
  $("result-title").textContent = "Result";
  $("stems").replaceChildren();
  $("timing").textContent = "";
  $("download-all").hidden = true;
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.urls = [];
}

async function useFile(file) {
  state.file = file;
  showError("");
  clearResult();
  $("file-name").textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  play("input-audio", file);
  try {
    state.inputLevel = drawSpectrogram($("input-spectrogram"), await decodeMono(file), null);
    $("input-note").textContent = "";
  } catch {
    state.inputLevel = null;
    clearCanvas($("input-spectrogram"));
    $("input-note").textContent = "This browser cannot preview this file; the server may still read it.";
  }
}

// A query's file name, as the server names it: ASCII, lowercase, [a-z0-9] runs joined by "-".
function stemName(query) {
  const ascii = query.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase();
  return ascii.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "") || "query";
}

// The stems of an answer: [{name, caption, blob}]. One sound comes as itself; several as a ZIP
// whose manifest.json says which file is which.
async function stemsOf(answer, queries, mode) {
  const blob = answer.response;
  if (!(answer.getResponseHeader("Content-Type") ?? "").startsWith("application/zip")) {
    const name = mode === "remove" ? "residual" : stemName(queries[0] ?? "query audio");
    const caption = mode === "remove" ? `Without “${queries[0] ?? "the example"}”` : queries[0] ?? "Like the example";
    return { stems: [{ name: `${name}.wav`, caption, blob }], zip: null };
  }
  const files = readZip(await blob.arrayBuffer());
  const manifest = JSON.parse(new TextDecoder().decode(files.get("manifest.json")));
  const stems = manifest.files.map((file) => ({
    name: file.name,
    caption: file.kind === "residual" ? "Everything else (the residual)" : file.query ?? "Like the example",
    blob: new Blob([files.get(file.name)], { type: "audio/wav" }),
  }));
  return { stems, zip: blob };
}

async function showResult(answer, queries, mode, seconds) {
  const { stems, zip } = await stemsOf(answer, queries, mode);
  $("result-title").textContent = stems.length > 1 ? `Result: ${stems.length} sounds` : "Result";
  if (zip) {
    $("download-all").href = blobUrl(zip);
    $("download-all").download = "stems.zip";
    $("download-all").hidden = false;
  }
  const stages = (answer.getResponseHeader("Server-Timing") ?? "")
    .split(",")
    .map((entry) => entry.trim().match(/^([\w-]+);dur=([\d.]+)/))
    .filter(Boolean)
    .map(([, name, ms]) => `${name} ${Math.round(ms)} ms`);
  // Every sound's player first, then the timing (so a result shown is a result complete), then the
  // spectrograms, which take a moment each.
  const canvases = stems.map((stem, index) => showStem(index, stem));
  $("timing").textContent =
    `Took ${seconds.toFixed(2)} s` + (stages.length ? ` (server: ${stages.join(", ")})` : "") + ".";
  for (const [index, { blob }] of stems.entries()) {
    // The input's loudest bin is the reference for all, so a quiet result looks quiet.
    drawSpectrogram(canvases[index], await decodeMono(blob), state.inputLevel);
  }
}

// One sound of the answer: caption, player, download; returns the canvas for its spectrogram.
function showStem(index, { name, caption, blob }) {
  const figure = $("stem-template").content.firstElementChild.cloneNode(true);
  const [audio, canvas, link] = ["audio", "canvas", "a"].map((tag) => figure.querySelector(tag));
  figure.dataset.stem = name;
  figure.querySelector("figcaption").textContent = `${caption} · ${name}`;
  audio.id = `stem-audio-${index}`;
  canvas.id = `stem-spectrogram-${index}`;
  canvas.setAttribute("aria-label", `Spectrogram of ${name}`);
  link.href = audio.src = blobUrl(blob);
  link.download = name;
  link.textContent = `Download ${name}`;
  $("stems").append(figure);
  return canvas;
}

// The files of a ZIP whose entries are stored (not compressed), as the server writes them: name -> bytes.
function readZip(buffer) {
  const view = new DataView(buffer);
  let end = buffer.byteLength - 22; // the end-of-central-directory record, found from the back
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("The answer is not a ZIP file.");
  const files = new Map();
  let entry = view.getUint32(end + 16, true);
  for (let i = 0; i < view.getUint16(end + 10, true); i++) {
    const size = view.getUint32(entry + 20, true);
    const nameLength = view.getUint16(entry + 28, true);
    const local = view.getUint32(entry + 42, true);
    if (view.getUint16(entry + 10, true) !== 0) throw new Error("The ZIP holds a compressed file.");
    const name = new TextDecoder().decode(new Uint8Array(buffer, entry + 46, nameLength));
    const data = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    files.set(name, new Uint8Array(buffer, data, size));
    entry += 46 + nameLength + view.getUint16(entry + 30, true) + view.getUint16(entry + 32, true);
  }
  return files;
}

// ---- spectrograms -----------------------------------------------------------------------------

async function decodeMono(blob) {
  const context = new OfflineAudioContext(1, 1, SPECTRUM_RATE); // decodeAudioData resamples to its rate
  const audio = await context.decodeAudioData(await blob.arrayBuffer());
  const mono = new Float32Array(audio.length);
  for (let channel = 0; channel < audio.numberOfChannels; channel++) {
    const samples = audio.getChannelData(channel);
    for (let i = 0; i < mono.length; i++) mono[i] += samples[i] / audio.numberOfChannels;
  }
  return mono;
}

// In-place radix-2 FFT of one size, with its bit-reversal and twiddles computed once.
function makeFft(size) {
  const bits = Math.log2(size);
  const reversed = new Uint32Array(size);
  for (let i = 0; i < size; i++) {
    for (let bit = 0; bit < bits; bit++) reversed[i] |= ((i >> bit) & 1) << (bits - 1 - bit);
  }
  const cos = new Float64Array(size / 2);
  const sin = new Float64Array(size / 2);
  for (let k = 0; k < size / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / size);
    sin[k] = -Math.sin((2 * Math.PI * k) / size);
  }
  return (re, im) => {
    for (let i = 0; i < size; i++) {
      const j = reversed[i];
      if (j > i) {
        [re[i], re[j]] = [re[j], re[i]];
        [im[i], im[j]] = [im[j], im[i]];
      }
    }
    for (let half = 1; half < size; half *= 2) {
      const stride = size / (2 * half);
      for (let start = 0; start < size; start += 2 * half) {
        for (let k = 0; k < half; k++) {
          const a = start + k;
          const b = a + half;
          const wr = cos[k * stride];
          const wi = sin[k * stride];
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
  };
}

const fft = makeFft(FFT_SIZE);
const hann = Float64Array.from({ length: FFT_SIZE }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FFT_SIZE));

// Power in dB, [columns][rows] flattened, frames centred on their hop like torch.stft(center=True).
function stftDecibels(samples) {
  const hop = Math.max(FFT_SIZE / 4, Math.ceil(samples.length / MAX_COLUMNS));
  const columns = Math.max(1, Math.ceil(samples.length / hop));
  const rows = FFT_SIZE / 2;
  const decibels = new Float32Array(columns * rows);
  const re = new Float64Array(FFT_SIZE);
  const im = new Float64Array(FFT_SIZE);
  for (let column = 0; column < columns; column++) {
    const offset = column * hop - FFT_SIZE / 2;
    for (let i = 0; i < FFT_SIZE; i++) {
      re[i] = (samples[offset + i] ?? 0) * hann[i]; // zero outside the signal
      im[i] = 0;
    }
    fft(re, im);
    for (let bin = 0; bin < rows; bin++) {
      decibels[column * rows + bin] = 10 * Math.log10(re[bin] * re[bin] + im[bin] * im[bin] + 1e-12);
    }
  }
  return { columns, rows, decibels };
}

function color(level) {
  const position = Math.min(Math.max(level, 0), 1) * (COLORMAP.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, COLORMAP.length - 1);
  return COLORMAP[low].map((value, i) => value + (COLORMAP[high][i] - value) * (position - low));
}

// Draws the spectrogram with `reference` dB as full scale (its own loudest bin if null); returns that.
function drawSpectrogram(canvas, samples, reference) {
  const { columns, rows, decibels } = stftDecibels(samples);
  const top = reference ?? decibels.reduce((a, b) => Math.max(a, b), -Infinity);
  canvas.width = columns;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(columns, rows);
  for (let column = 0; column < columns; column++) {
    for (let bin = 0; bin < rows; bin++) {
      const level = (decibels[column * rows + bin] - top + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB;
      const pixel = 4 * ((rows - 1 - bin) * columns + column); // low frequencies at the bottom
      image.data.set([...color(level), 255], pixel);
    }
  }
  context.putImageData(image, 0, 0);
  canvas.dataset.drawn = "true";
  return top;
}

function clearCanvas(canvas) {
  canvas.width = canvas.height = 1;
  delete canvas.dataset.drawn;
}

// ---- the microphone ---------------------------------------------------------------------------

// Browsers record WebM or Ogg Opus, which the server need not read: hand it 16-bit WAV instead.
function wav(audio) {
  const channels = audio.numberOfChannels;
  const bytes = 44 + 2 * channels * audio.length;
  const view = new DataView(new ArrayBuffer(bytes));
  const text = (offset, value) => [...value].forEach((char, i) => view.setUint8(offset + i, char.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, bytes - 8, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); // PCM header size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, channels, true);
  view.setUint32(24, audio.sampleRate, true);
  view.setUint32(28, audio.sampleRate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, 2 * channels * audio.length, true);
  const data = Array.from({ length: channels }, (_, channel) => audio.getChannelData(channel));
  for (let i = 0, offset = 44; i < audio.length; i++) {
    for (let channel = 0; channel < channels; channel++, offset += 2) {
      view.setInt16(offset, Math.max(-1, Math.min(1, data[channel][i])) * 0x7fff, true);
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

function setUpRecording() {
  const button = $("record");
  if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) return; // the button stays hidden
  button.hidden = false;
  button.setAttribute("aria-pressed", "false");
  let recorder = null;
  button.addEventListener("click", async () => {
    if (recorder) return recorder.stop();
    showError("");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      return showError(`The microphone is not available: ${error.message}`);
    }
    const pieces = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => pieces.push(event.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      recorder = null;
      button.textContent = "Record from the microphone";
      button.setAttribute("aria-pressed", "false");
      try {
        const context = new OfflineAudioContext(1, 1, RECORDING_RATE);
        const audio = await context.decodeAudioData(await new Blob(pieces).arrayBuffer());
        await useFile(new File([wav(audio)], "recording.wav", { type: "audio/wav" }));
      } catch (error) {
        showError(`The recording could not be read: ${error.message}`);
      }
    };
    recorder.start();
    button.textContent = "Stop recording";
    button.setAttribute("aria-pressed", "true");
  });
}

// ---- several queries --------------------------------------------------------------------------

// Another query field, up to the server's max_queries; each after the first can be removed.
function addQuery() {
  const number = ++state.queriesAdded; // ids stay unique when fields are removed and added again
  const row = document.createElement("div");
  row.className = "query-row";
  const input = document.createElement("input");
  Object.assign(input, { type: "text", maxLength: 512, autocomplete: "off", id: `query-${number}` });
  input.setAttribute("list", "known-sounds"); // the model's vocabulary as suggestions, as in the first field
  input.setAttribute("aria-label", `Sound ${number}`);
  const remove = document.createElement("button");
  Object.assign(remove, { type: "button", textContent: "Remove" });
  remove.setAttribute("aria-label", `Remove sound ${number}`);
  remove.addEventListener("click", () => {
    row.remove();
    if (state.lastQuery === input) state.lastQuery = $("query");
    updateAddQuery();
  });
  row.append(input, remove);
  $("queries").append(row);
  input.focus();
  updateAddQuery();
}

function updateAddQuery() {
  $("add-query").disabled = queryInputs().length >= state.maxQueries;
}

// ---- wiring -----------------------------------------------------------------------------------

function setUp() {
  $("separate-form").addEventListener("submit", separate);
  $("file").addEventListener("change", (event) => event.target.files[0] && useFile(event.target.files[0]));
  // The whole window takes a drop, so a near miss does not make the browser open the file instead.
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    $("drop-zone").classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) $("drop-zone").classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    $("drop-zone").classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) useFile(file);
  });
  // An example fills the query field last used (the first one to begin with).
  state.lastQuery = $("query");
  $("queries").addEventListener("focusin", (event) => (state.lastQuery = event.target));
  for (const example of $("examples").querySelectorAll("button")) {
    example.addEventListener("click", () => {
      state.lastQuery.value = example.textContent;
      state.lastQuery.focus();
    });
  }
  $("add-query").addEventListener("click", addQuery);
  $("query-audio").addEventListener("change", () => {
    $("clear-query-audio").hidden = !$("query-audio").files.length;
  });
  $("clear-query-audio").addEventListener("click", () => {
    $("query-audio").value = "";
    $("clear-query-audio").hidden = true;
  });
  const key = $("api-key");
  key.value = sessionStorage.getItem(API_KEY) ?? "";
  $("api-key-box").open = Boolean(key.value);
  key.addEventListener("change", () => {
    sessionStorage.setItem(API_KEY, key.value.trim());
    showModel();
  });
  setUpRecording();
  showModel();
}

setUp();

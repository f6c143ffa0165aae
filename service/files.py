"""`textsep separate` over many files: the service's own runtime, batcher and model instances, no HTTP.

Files are decoded, cut and queued a few at a time, so chunks of different files share batches
exactly as concurrent requests do; each file becomes the stems its mode asks for. A file that fails
(undecodable, too long, unwritable) is reported at the end and the rest still run.
"""

from __future__ import annotations

import asyncio
import glob
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
import torch
from tqdm import tqdm

from service import audio, vocabulary
from service.errors import ApiError
from service.metrics import Metrics
from service.runtime import Phase, Runtime, batch_ceiling
from service.separation import Separation
from service.settings import Settings
from service.stems import Mode, chosen_names, named, stem_names

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
FILES_IN_FLIGHT = 4  # enough to fill batches across files, few enough to bound memory
PROGRESS = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}]"


@dataclass
class Task:
    source: Path
    destinations: dict[str, Path]  # stem name -> output file
    milliseconds: int  # of audio, from the header; 0 if it cannot be read (the file then fails when decoded)


def find_sources(patterns: list[str]) -> list[Path]:
    """Files, folders (every audio file below them) and globs -> sorted, distinct files."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif glob.has_magic(pattern):
            found.update(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        else:
            found.add(path)  # a missing file is reported as a failure, like a broken one
    return sorted(found)


def plan(sources: list[Path], names: list[str], mode: Mode, output: Path) -> list[Task]:
    """Where each source's stems go: `output` itself for one file and one stem with an audio file
    name (the single-file form), else `output/<source's path below the sources' common folder,
    without its extension>/<stem>.wav`, so that files of the same name in other folders stay apart."""
    chosen = chosen_names(names, mode)
    if len(sources) == 1 and len(chosen) == 1 and output.suffix.lower() in AUDIO_SUFFIXES:
        return [Task(sources[0], {chosen[0]: output}, header_milliseconds(sources[0]))]
    common = Path(os.path.commonpath([source.absolute().parent for source in sources]))
    tasks = []
    for source in sources:
        folder = output / source.absolute().relative_to(common).with_suffix("")
        tasks.append(Task(source, {name: folder / f"{name}.wav" for name in chosen}, header_milliseconds(source)))
    return tasks


def header_milliseconds(source: Path) -> int:
    try:
        info = sf.info(source)
    except (sf.SoundFileError, OSError, RuntimeError):
        return 0
    return round(1000 * info.frames / info.samplerate) if info.samplerate else 0


def separate_files(
    settings: Settings, patterns: list[str], queries: list[str], mode: Mode, output: Path, force: bool
) -> int:
    """0 if every file was separated (or already was), 1 if any failed, 2 if nothing matched."""
    sources = find_sources(patterns)
    if not sources:
        print(f"textsep: no audio files match {' '.join(patterns)}", file=sys.stderr)
        return 2
    names = stem_names(queries)
    tasks = plan(sources, names, mode, output)
    todo = [task for task in tasks if force or not all(path.exists() for path in task.destinations.values())]
    if len(todo) < len(tasks):
        print(f"skipping {len(tasks) - len(todo)} file(s) already separated (--force redoes them)", file=sys.stderr)
    if not todo:
        return 0
    # Every chunk of a run may queue at once: the bound on queued audio is for the server's clients.
    runtime = Runtime(settings.model_copy(update={"max_queue_seconds": math.inf}), Metrics(batch_ceiling(settings)))
    runtime.start()
    while runtime.phase in (Phase.LOADING, Phase.WARMING_UP):
        time.sleep(0.05)
    if not runtime.ready:
        print(f"textsep: the model did not load: {runtime.failure}", file=sys.stderr)
        return 1
    try:
        conditions = known_conditions(runtime, queries)
    except ApiError as error:  # a query the model does not know: the user's to fix, as the server's 422
        runtime.close()
        print(f"textsep: {error.detail}", file=sys.stderr)
        return 2
    try:
        total = sum(task.milliseconds for task in todo)
        # counts ms, shows s; disable=None: drawn on a terminal only, never into a log or a pipe
        with tqdm(total=total, unit_scale=0.001, desc="separating", bar_format=PROGRESS, disable=None) as bar:
            failures = asyncio.run(run(runtime, todo, conditions, names, mode, settings, bar))
    finally:
        runtime.close()
    for source, reason in failures.items():
        print(f"failed: {source}: {reason}", file=sys.stderr)
    print(f"{len(todo) - len(failures)} of {len(todo)} file(s) separated", file=sys.stderr)
    return 1 if failures else 0


def known_conditions(runtime: Runtime, queries: list[str]) -> torch.Tensor:
    """The queries' conditions [Q, D]; with a closed-vocabulary model each query's nearest known
    sound is said, and a query the model does not know is refused as the server refuses it."""
    conditions = runtime.separator.embed(queries)
    matches = vocabulary.nearest(runtime.separator.vocabulary, conditions)
    if matches is not None:
        vocabulary.refuse_unknown(queries, matches, runtime.unknown_query_threshold)
        for query, match in zip(queries, matches):
            print(f"{query!r}: nearest known sound {match.label!r} ({match.similarity:.2f})", file=sys.stderr)
    return conditions


async def run(
    runtime: Runtime,
    tasks: list[Task],
    conditions: torch.Tensor,
    names: list[str],
    mode: Mode,
    settings: Settings,
    bar: tqdm,
) -> dict[Path, str]:
    """Every task, FILES_IN_FLIGHT at a time; returns the failed ones' reasons."""
    limits = audio.Limits.from_settings(settings)
    slots, failures = asyncio.Semaphore(FILES_IN_FLIGHT), {}

    async def one(task: Task) -> None:
        async with slots:
            try:
                await separate_one(runtime, task, conditions, names, mode, limits, bar)
            except ApiError as error:  # what the server would answer: not audio, too long, ...
                failures[task.source] = error.detail
            except Exception as error:  # noqa: BLE001 - one file's failure must not stop the others
                failures[task.source] = f"{type(error).__name__}: {error}"

    await asyncio.gather(*(one(task) for task in tasks))
    return failures


async def separate_one(
    runtime: Runtime,
    task: Task,
    conditions: torch.Tensor,
    names: list[str],
    mode: Mode,
    limits: audio.Limits,
    bar: tqdm,
) -> None:
    with task.source.open("rb") as file:
        upload = await asyncio.to_thread(audio.decode, file, limits)
    plan = await asyncio.to_thread(runtime.separator.plan, upload.samples, upload.sample_rate, conditions, mode)

    def progress(done: int, total: int) -> None:  # the bar moves chunk by chunk, to the file's length exactly
        bar.update(task.milliseconds * done // total - task.milliseconds * (done - 1) // total)

    stems = await Separation(runtime.batcher, plan, progress).result()
    for name, samples in named(names, stems).items():
        destination = task.destinations[name]
        destination.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(sf.write, destination, samples.T, upload.sample_rate)

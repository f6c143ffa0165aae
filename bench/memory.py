"""Peak memory by batch size and by clip length, each measured in a fresh process (a process's
resident-set high-water mark only grows, so one process cannot measure two settings).

    python -m bench.memory batch 8        # one probe; prints {"peak_rss_bytes": ..., "peak_gpu_bytes": ...}
    python -m bench.memory chunked 600    # a 10-minute clip the service's way: 4 s chunks, batches of 8
    python -m bench.memory whole 60       # a 1-minute clip the one-at-a-time way: one pass over the file

A probe runs the bundled model; `loaded 0` is the model loaded and nothing run, the floor.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import httpx
import numpy as np
import torch

from bench.procfs import peak_rss_bytes
from bench.server import REPO, BenchServer
from bench.workload import wav_bytes
from model.separator import Separator

PROBES = ("loaded", "batch", "chunked", "whole")
CHUNKED_BATCH = 8  # the chunked probe's batch: memory stays bounded whatever the length


def run_probe(kind: str, value: float) -> dict:
    separator = Separator.from_pretrained("bundled")
    rng = np.random.default_rng(0)
    query = separator.embed(["a man speaking"])
    if kind == "batch":
        chunks = torch.from_numpy(0.1 * rng.standard_normal((int(value), separator.chunking.window), np.float32))
        separator.separate_chunks(chunks, query.expand(len(chunks), -1))
    elif kind in ("chunked", "whole"):
        clip = 0.1 * rng.standard_normal(int(value * separator.sample_rate), np.float32)
        if kind == "chunked":
            separator.separate(clip, separator.sample_rate, "a man speaking", batch_size=CHUNKED_BATCH)
        else:
            separator.separate_chunks(torch.from_numpy(clip)[None], query)
    cuda = separator.device.type == "cuda"
    return {
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_gpu_bytes": torch.cuda.max_memory_allocated(separator.device) if cuda else None,
    }


def probe(kind: str, value: float) -> dict:
    """One probe in a fresh interpreter."""
    command = [sys.executable, "-m", "bench.memory", kind, str(value)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {kind} {value:g} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def model_memory(batch_sizes: list[int], chunked_seconds: list[float], whole_seconds: list[float]) -> dict:
    return {
        "loaded": probe("loaded", 0),
        "by_batch": {size: probe("batch", size) for size in batch_sizes},
        "chunked": {seconds: probe("chunked", seconds) for seconds in chunked_seconds},
        "whole": {seconds: probe("whole", seconds) for seconds in whole_seconds},
    }


def service_memory(server: BenchServer, upload_seconds: list[float]) -> dict:
    """The HTTP process's peak RSS when ready, then after each upload (stereo, 44.1 kHz, 16-bit) in
    turn, longest last. The instances' memory is the model's: bounded by the batch (below)."""
    peaks = {0: peak_rss_bytes(server.process.pid)}
    rng = np.random.default_rng(1)
    for seconds in sorted(upload_seconds):
        upload = wav_bytes(seconds, rng, channels=2)
        answer = httpx.post(
            server.url + "/separate", files={"file": ("long.wav", upload)}, data={"query": "rain"}, timeout=1800
        )
        answer.raise_for_status()
        peaks[seconds] = peak_rss_bytes(server.process.pid)
    return peaks


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=PROBES)
    parser.add_argument("value", type=float, help="batch size, or clip seconds")
    args = parser.parse_args(argv)
    print(json.dumps(run_probe(args.kind, args.value)))


if __name__ == "__main__":
    main()

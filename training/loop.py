"""What every training script here shares: the run (seeds, threads, device, resumable checkpoints),
the loop (budget, SIGTERM, validation, checkpoints), the learning-rate schedule, the common options
and the query texts the separator is conditioned on."""

from __future__ import annotations

import argparse
import json
import math
import signal
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model.encoders.text import MiniLMEncoder
from model.separator import default_device
from training.corpus import CLASSES, SoundClass


def query_bank(
    encoder: MiniLMEncoder, classes: tuple[SoundClass, ...] = CLASSES
) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Embeddings of every training text (labels and captions) and, per class, the rows that are its."""
    texts, rows = [], []
    for sound in classes:
        start = len(texts)
        texts += [sound.label, *sound.captions]
        rows.append(np.arange(start, len(texts)))
    return encoder.encode(texts), rows


def label_embeddings(encoder: MiniLMEncoder, classes: tuple[SoundClass, ...] = CLASSES) -> torch.Tensor:
    return encoder.encode([sound.label for sound in classes])


def pick_conditions(bank, rows, classes: np.ndarray, rng: np.random.Generator, label_share: float) -> torch.Tensor:
    """A label (with probability `label_share`) or one of the class's captions, per item."""
    picks = [r[0] if rng.random() < label_share else rng.choice(r[1:]) for r in (rows[c] for c in classes)]
    return bank[torch.as_tensor(picks)]


def run_loop(args, step: int, history: list, train_step, validate, checkpoint, desc: str) -> int:
    """The loop of every training script here: `train_step(step) -> (loss, progress-bar fields)`
    until `args.steps`, SIGTERM, Ctrl-C or `args.max_minutes` (resumable from the last checkpoint);
    `validate() -> scores` every `args.valid_every` steps, into `history`; `checkpoint(step)` every
    `args.checkpoint_every` steps and on the way out. Returns the step reached."""
    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else math.inf
    bar = tqdm(total=args.steps, initial=step, desc=desc, dynamic_ncols=True)
    try:
        while step < args.steps and not stop["requested"] and time.monotonic() < deadline:
            loss, progress = train_step(step)
            step += 1
            bar.update(1)
            bar.set_postfix(progress)
            if step % args.valid_every == 0 or step == args.steps:
                scores = validate()
                history.append({"step": step, "loss": loss, **scores})
                bar.write(f"step {step}: valid " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            if step % args.checkpoint_every == 0:
                checkpoint(step)
    except KeyboardInterrupt:
        print("interrupted; saving")
    finally:
        bar.close()
        checkpoint(step)
    return step


def start_run(args) -> tuple[Path, torch.device]:
    """Seeds, threads, the run directory and the device a training script runs with."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    return run, torch.device(args.device) if args.device else default_device()


def resume(last: Path, model: torch.nn.Module, optimizer, device) -> tuple[int, list]:
    """(step, history) of the run's last checkpoint, loaded into model and optimizer; (0, []) if none."""
    if not last.exists():
        return 0, []
    state = torch.load(last, map_location=device, weights_only=True)
    model.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    print(f"resuming {last} at step {state['step']}")
    return state["step"], json.loads(state["history"])


def learning_rate(step: int, peak: float, warmup: int, total: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every training script here shares: corpus, optimiser, checkpoints, budget, device."""
    parser.add_argument("--corpus", default=".cache/corpus", help="where the synthetic sources are rendered")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--clips-per-class", type=int, default=80)
    parser.add_argument("--valid-clips-per-class", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=0, help="stop (resumably) after this long; 0 = no limit")
    parser.add_argument("--device", default="", help="cpu, cuda, cuda:1 ...; default: cuda if available")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)

"""Train the bundled separator on the synthetic corpus, reproducibly and resumably.

    python -m model.train --run runs/bundled            # train (or continue) and export the weights

The run directory holds `last.pt` (weights, optimiser, step), written every `--checkpoint-every`
steps and on Ctrl-C / time budget; running the same command again continues from it. The mixture
sampler is re-seeded from (seed, step) at every checkpoint boundary, so an interrupted and resumed
run sees the same data as an uninterrupted one. Recipe as in AudioSep: L1 loss on the waveform,
AdamW, linear warm-up; then cosine decay so that a short CPU run ends at a small learning rate.
"""

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

from model.checkpoint import save_checkpoint
from model.data import CLASSES, MixtureSampler, SourcePool, build_pool, fixed_mixtures
from model.metrics import improvements
from model.resunet import ResUNet
from model.separator import PRETRAINED, default_device
from model.text import MiniLMEncoder


def query_bank(encoder: MiniLMEncoder) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Embeddings of every training text (labels and captions) and, per class, the rows that are its."""
    texts, rows = [], []
    for sound in CLASSES:
        start = len(texts)
        texts += [sound.label, *sound.captions]
        rows.append(np.arange(start, len(texts)))
    return encoder.encode(texts), rows


def label_embeddings(encoder: MiniLMEncoder) -> torch.Tensor:
    return encoder.encode([sound.label for sound in CLASSES])


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


@torch.no_grad()
def validate(model: ResUNet, mixtures, conditions: torch.Tensor, batch_size: int = 16) -> dict[str, float]:
    model.eval()
    scores = {"sdri": [], "si_sdri": []}
    for start in range(0, len(mixtures), batch_size):
        part = mixtures[start : start + batch_size]
        mixture = torch.from_numpy(np.stack([m for m, _, _ in part])).to(conditions.device)
        target = torch.from_numpy(np.stack([t for _, t, _ in part])).to(conditions.device)
        classes = torch.as_tensor([c for _, _, c in part], device=conditions.device)
        estimate = model(mixture[:, None], conditions[classes])[:, 0]
        for key, value in improvements(estimate, mixture, target).items():
            scores[key].append(value)
    model.train()
    return {key: torch.cat(values).mean().item() for key, values in scores.items()}


def train(args: argparse.Namespace) -> Path:
    run, device = start_run(args)
    model = ResUNet.from_preset(args.preset).to(device)
    sample_rate = model.config.sample_rate
    segment = int(args.segment_seconds * sample_rate)

    train_pool = SourcePool.load(build_pool(Path(args.corpus), "train", args.clips_per_class, sample_rate))
    valid_pool = SourcePool.load(build_pool(Path(args.corpus), "valid", args.valid_clips_per_class, sample_rate))
    valid_set = fixed_mixtures(valid_pool, args.valid_mixtures, segment, seed=args.seed + 1)

    encoder = MiniLMEncoder()
    bank, rows = query_bank(encoder)
    bank, labels = bank.to(device), label_embeddings(encoder).to(device)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    last = run / "last.pt"
    step, history = resume(last, model, optimizer, device)

    def checkpoint(step: int) -> None:
        save_checkpoint(
            last, model, optimizer=optimizer.state_dict(), step=step, history=json.dumps(history),
            text_encoder=encoder.name,
        )

    first_step, stream = step, {}  # the sampler and generator of the current checkpoint interval

    def train_step(step: int) -> tuple[float, dict]:
        if step % args.checkpoint_every == 0 or step == first_step:
            boundary = step - step % args.checkpoint_every
            stream["sampler"] = MixtureSampler(train_pool, segment, seed=args.seed * 1_000_003 + boundary)
            stream["rng"] = np.random.default_rng(args.seed * 1_000_003 + boundary)
            for _ in range(step - boundary):  # replay to this exact step after a resume
                stream["sampler"].sample(args.batch_size)
                stream["rng"].random(args.batch_size)
        mixture, target, classes = stream["sampler"].sample(args.batch_size)
        condition = pick_conditions(bank, rows, classes, stream["rng"], args.label_share)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.steps)
        estimate = model(torch.from_numpy(mixture).to(device)[:, None], condition)[:, 0]
        loss = (estimate - torch.from_numpy(target).to(device)).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        return loss.item(), {"loss": f"{loss.item():.4f}", "lr": f"{optimizer.param_groups[0]['lr']:.1e}"}

    model.train()
    step = run_loop(args, step, history, train_step, lambda: validate(model, valid_set, labels), checkpoint, "train")
    if args.export:  # also after a budget stop: the latest weights are the best we have
        save_checkpoint(
            args.export, model, text_encoder=encoder.name, trained_steps=step, history=json.dumps(history),
            chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds,
        )
        print(f"exported {args.export}")
    return last


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--run", default="runs/bundled", help="run directory (checkpoints, resumable)")
    parser.add_argument("--preset", default="bundled-small")
    parser.add_argument("--export", default=str(PRETRAINED["bundled"]), help="weights written when training ends")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--chunk-seconds", type=float, default=4.0, help="inference window stored with the weights")
    parser.add_argument("--overlap-seconds", type=float, default=0.5, help="its cross-fade")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    parser.add_argument("--label-share", type=float, default=0.4, help="share of label (vs caption) queries")
    parser.add_argument("--valid-mixtures", type=int, default=128)
    parser.add_argument("--valid-every", type=int, default=250)
    return parser.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())

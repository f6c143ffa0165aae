"""Train the bundled separator on the synthetic corpus, reproducibly and resumably.

    python -m training.train --run runs/bundled            # train (or continue) and export the weights

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
from pathlib import Path

import numpy as np
import torch

from model.checkpoint import load_checkpoint, save_checkpoint
from model.encoders.text import MiniLMEncoder
from model.metrics import improvements
from model.resunet import ResUNet
from model.separator import PRETRAINED
from training.corpus import MixtureSampler, SourcePool, build_pool, fixed_mixtures
from training.loop import (
    add_run_arguments,
    label_embeddings,
    learning_rate,
    pick_conditions,
    query_bank,
    resume,
    run_loop,
    start_run,
)
from training.vocabulary import write_vocabulary


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

    train_pool, valid_pool = load_pools(args, sample_rate)
    classes = train_pool.classes  # the pool's vocabulary: 13 synthetic classes, or all 71 of the real corpus
    valid_set = fixed_mixtures(valid_pool, args.valid_mixtures, segment, seed=args.seed + 1)

    encoder = MiniLMEncoder()
    bank, rows = query_bank(encoder, classes)
    bank, labels = bank.to(device), label_embeddings(encoder, classes).to(device)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    last, best = run / "last.pt", run / "best.pt"
    step, history = resume(last, model, optimizer, device)
    if step == 0 and args.init:  # a new run starts from trained weights, not from scratch
        model.load_state_dict(load_checkpoint(args.init)[0].state_dict())
        print(f"starting from {args.init}")

    def checkpoint(step: int) -> None:
        save_checkpoint(
            last,
            model,
            optimizer=optimizer.state_dict(),
            step=step,
            history=json.dumps(history),
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

    def validation() -> dict[str, float]:
        """Validation scores; the weights with the best SDRi so far are kept in best.pt (checkpoint choice
        uses the valid split only: the test split stays for the quality evaluation)."""
        scores = validate(model, valid_set, labels)
        if scores["sdri"] > max((entry["sdri"] for entry in history), default=-math.inf):
            save_checkpoint(best, model, step=len(history), sdri=scores["sdri"], text_encoder=encoder.name)
        return scores

    model.train()
    step = run_loop(args, step, history, train_step, validation, checkpoint, "train")
    if args.export:  # also after a budget stop: the best weights validation has seen so far
        if best.exists():
            model.load_state_dict(load_checkpoint(best)[0].state_dict())
        save_checkpoint(
            args.export,
            model,
            text_encoder=encoder.name,
            trained_steps=step,
            history=json.dumps(history),
            chunk_seconds=args.chunk_seconds,
            overlap_seconds=args.overlap_seconds,
        )
        report = write_vocabulary(Path(args.export), encoder, classes)
        print(f"exported {args.export}; unknown-query threshold {report['threshold']}")
    return last


def load_pools(args: argparse.Namespace, sample_rate: int) -> tuple[SourcePool, SourcePool]:
    """Train and valid pools: a packed pool file, a rendered real-corpus root (`python -m
    training.corpus build-real`), or the synthetic corpus, rendered here if need be."""
    corpus = Path(args.corpus)
    if corpus.is_file():
        return SourcePool.load(corpus, "train"), SourcePool.load(corpus, "valid")
    if (corpus / "train" / "manifest.json").exists() and (corpus / "valid" / "manifest.json").exists():
        return SourcePool.load(corpus / "train"), SourcePool.load(corpus / "valid")
    return (
        SourcePool.load(build_pool(corpus, "train", args.clips_per_class, sample_rate)),
        SourcePool.load(build_pool(corpus, "valid", args.valid_clips_per_class, sample_rate)),
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--run", default="runs/bundled", help="run directory (checkpoints, resumable)")
    parser.add_argument("--preset", default="bundled-small")
    parser.add_argument("--export", default=str(PRETRAINED["bundled"]), help="weights written when training ends")
    parser.add_argument("--init", default=str(PRETRAINED["bundled"]), help="weights a new run starts from ('' = none)")
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

"""Train the bundled model's audio-query encoder: clip of a class -> the MiniLM embedding of its text.

    python -m training.train_query_audio --run runs/query-audio     # train (or continue) and export

Each step draws random crops (1-6 s; the clips last about 6 s) of training clips, with a random
microphone colouring and, sometimes, a quieter sound of another class underneath, as a user's example
recording would have. Loss: cosine distance to the embedding of the clip's label or one of its
captions (that lands the vector where the separator's conditions live), plus a cross-entropy over
the classes' mean text embeddings (that keeps classes apart). The export also stores the embeddings
of those texts, through which the encoder expresses its output at inference
(`model.encoders.query_audio.onto_texts`). Every step's batch comes from a generator seeded by (seed, step),
so a resumed run sees exactly the data an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.encoders.query_audio import QueryAudioConfig, QueryAudioNet, save_query_audio
from model.encoders.text import MiniLMEncoder
from model.separator import QUERY_AUDIO
from training.corpus import CLASSES, SourcePool, build_pool
from training.corpus.augment import random_equaliser
from training.corpus.mixing import INT16_SCALE
from training.loop import add_run_arguments, learning_rate, query_bank, resume, run_loop, start_run


def crop(clip: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random `length`-sample window of an int16 clip as float32; a shorter clip is repeated."""
    if len(clip) <= length:
        return np.resize(clip, length).astype(np.float32) * INT16_SCALE
    start = int(rng.integers(0, len(clip) - length + 1))
    return clip[start : start + length].astype(np.float32) * INT16_SCALE


def example_batch(pool: SourcePool, batch_size: int, rng: np.random.Generator, args) -> tuple[np.ndarray, np.ndarray]:
    """[B, T] example recordings of random classes (one random length per batch) and their classes."""
    length = int(rng.uniform(args.min_seconds, args.max_seconds) * pool.sample_rate)
    classes = rng.integers(0, len(CLASSES), size=batch_size)
    examples = []
    for c in classes:
        clips = pool.clips[c]
        audio = crop(clips[rng.integers(len(clips))], length, rng)
        if rng.random() < args.interference_share:
            other = rng.choice([k for k in range(len(CLASSES)) if k != c])
            noise = crop(pool.clips[other][rng.integers(len(pool.clips[other]))], length, rng)
            level = rms(audio) / rms(noise) * 10 ** (rng.uniform(-20, -5) / 20)
            audio = audio + noise * np.float32(level)
        if rng.random() < args.equaliser_share:
            audio, _ = random_equaliser(audio, rng, pool.sample_rate)
        examples.append(audio.astype(np.float32))
    return np.stack(examples), classes


def rms(audio: np.ndarray) -> float:
    return max(float(np.sqrt(np.mean(np.square(audio)))), 1e-5)


def class_centroids(bank: torch.Tensor, rows: list[np.ndarray]) -> torch.Tensor:
    """Per class, the normalised mean of its label and caption embeddings."""
    return F.normalize(torch.stack([bank[torch.as_tensor(r)].mean(0) for r in rows]), dim=-1)


@torch.no_grad()
def validate(network: QueryAudioNet, pool: SourcePool, centroids: torch.Tensor, seconds: float) -> dict[str, float]:
    """Whole clips (cut to `seconds`) of the validation split: nearest-class accuracy and cosine."""
    network.eval()
    cosines, correct = [], []
    for c, clips in enumerate(pool.clips):
        for clip in clips:
            audio = torch.from_numpy(clip[: int(seconds * pool.sample_rate)].astype(np.float32) * INT16_SCALE)
            embedding = network(network.fit_length(audio[None].to(centroids.device)))[0]
            cosines.append(float(embedding @ centroids[c]))
            correct.append(int((centroids @ embedding).argmax()) == c)
    network.train()
    return {"accuracy": float(np.mean(correct)), "cosine": float(np.mean(cosines))}


def train(args: argparse.Namespace) -> Path:
    run, device = start_run(args)
    network = QueryAudioNet(QueryAudioConfig()).to(device)
    sample_rate = network.config.sample_rate
    train_pool = SourcePool.load(build_pool(Path(args.corpus), "train", args.clips_per_class, sample_rate))
    valid_pool = SourcePool.load(build_pool(Path(args.corpus), "valid", args.valid_clips_per_class, sample_rate))

    encoder = MiniLMEncoder()
    bank, rows = query_bank(encoder)
    bank = bank.to(device)
    centroids = class_centroids(bank, rows)

    optimizer = torch.optim.AdamW(network.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    last = run / "last.pt"
    step, history = resume(last, network, optimizer, device)

    def checkpoint(step: int) -> None:
        save_query_audio(last, network, optimizer=optimizer.state_dict(), step=step, history=json.dumps(history))

    def train_step(step: int) -> tuple[float, dict]:
        rng = np.random.default_rng([args.seed, step])
        examples, classes = example_batch(train_pool, args.batch_size, rng, args)
        picks = [rng.choice(rows[c]) for c in classes]  # the label or one of the captions
        targets, classes = bank[torch.as_tensor(picks)], torch.as_tensor(classes, device=device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.steps)
        embeddings = network(torch.from_numpy(examples).to(device))
        cosine_loss = 1 - (embeddings * targets).sum(-1).mean()
        class_loss = F.cross_entropy(embeddings @ centroids.T / args.temperature, classes)
        loss = cosine_loss + class_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item(), {"cosine": f"{1 - cosine_loss.item():.3f}", "ce": f"{class_loss.item():.3f}"}

    def validation() -> dict[str, float]:
        return validate(network, valid_pool, centroids, args.max_seconds)

    network.train()
    step = run_loop(args, step, history, train_step, validation, checkpoint, "train query-audio")
    if args.export:
        save_query_audio(
            args.export, network.eval(), text_encoder=encoder.name, texts=bank.cpu(),
            text_temperature=args.text_temperature, trained_steps=step, history=json.dumps(history),
        )
        print(f"exported {args.export}")
    return last


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--run", default="runs/query-audio", help="run directory (checkpoints, resumable)")
    parser.add_argument("--export", default=str(QUERY_AUDIO["bundled"]), help="weights written when training ends")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-seconds", type=float, default=1.0, help="shortest training crop")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="longest training crop (clips last ~6 s)")
    parser.add_argument("--interference-share", type=float, default=0.3, help="examples with another sound underneath")
    parser.add_argument("--equaliser-share", type=float, default=0.5, help="examples with a random microphone colour")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.1, help="of the class cross-entropy")
    parser.add_argument("--text-temperature", type=float, default=0.05, help="of `onto_texts` at inference")
    parser.add_argument("--valid-every", type=int, default=200)
    return parser.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())

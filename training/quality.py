"""Separation quality of a model on held-out mixtures, beside the floor and the oracle ceiling.

    python -m training.quality                      # bundled model, own held-out split, writes training/results/
    python -m training.quality --split independent  # recorded Debian sounds + FluidR3 instruments
    python -m training.quality --corpus .cache/corpus-real   # the real-recordings test split (build-real first)

For every mixture (a target plus one or two other classes at -5..+5 dB, 4 s, seeded) it reports
SDRi and SI-SDRi for:
- label queries ("piano") and held-out caption queries never seen in training;
- audio queries (query by example), when the model has an audio-query encoder: a whole clip of the
  target's class from a `test`-split pool rendered with its own seed, so never a source of any
  mixture (for `--split independent` the examples are thus synthetic, the targets recorded);
- the mixture itself (the floor: 0 dB by definition) and the oracle ideal ratio mask (the ceiling:
  the best any magnitude mask on this STFT could do, computed from the true sources);
and, for a query naming a class absent from the mixture, the output-to-mixture energy ratio (dB):
near silence is the right answer there. With a closed vocabulary, also the share of held-out
captions accepted and of out-of-vocabulary queries refused at the model's unknown-query threshold.

On the real-recordings test split (a pool rendered by `build-real`), mixtures are mixed like real
life (training/corpus/mixing.py) and audio queries are another clip of the target's class from the
same test pool: with two or three held-out recordings per class it may come from the target's own
recording, so that row is an upper bound there.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from model.metrics import improvements
from model.separator import Separator
from training.corpus import CLASSES, SPLIT_SEEDS, MixtureSampler, SoundClass, SourcePool, build_pool, conflicting
from training.corpus.mixing import INT16_SCALE
from training.vocabulary import OUT_OF_VOCABULARY

RESULTS = Path(__file__).parent / "results"
EXAMPLE_SEED = SPLIT_SEEDS["test"] + 500  # the example recordings' own seed: no mixture pool uses it
AUDIO_QUERY = "audio query (another clip)"


def held_out_set(pool: SourcePool, n: int, segment: int, seed: int):
    """`n` reproducible mixtures, targets cycling through the classes, with the classes present."""
    sampler = MixtureSampler(pool, segment, seed)
    return [sampler.draw(sampler.classes[i % len(sampler.classes)]) for i in range(n)]


def build_example_pool(root: Path, clips_per_class: int, sample_rate: int) -> SourcePool:
    """Held-out clips to query by example with: the `test` split's sources under another seed."""
    return SourcePool.load(build_pool(root, "test", clips_per_class, sample_rate, EXAMPLE_SEED, progress=False))


def example_conditions(separator: Separator, pool: SourcePool, examples, offset: int = 0) -> torch.Tensor:
    """Per mixture, the embedding of a clip of its target's class (cycling through the pool's clips,
    from `offset` on: another clip than the mixtures' when the pool is the mixtures' own)."""
    clips = [pool.clips[e.class_index][(i + offset) % len(pool.clips[e.class_index])] for i, e in enumerate(examples)]
    scale = np.float32(INT16_SCALE)
    return torch.stack([separator.embed_audio(clip[None] * scale, pool.sample_rate) for clip in clips])


def oracle_irm(separator: Separator, mixture: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The ideal ratio mask |S| / (|S| + |N|) on the model's own STFT, applied to the mixture."""
    network = separator.model.cpu()
    spec_target, spec_rest = network.stft(target), network.stft(mixture - target)
    mask = spec_target.abs() / (spec_target.abs() + spec_rest.abs()).clamp_min(1e-8)
    estimate = network.istft(network.stft(mixture) * mask, mixture.shape[-1])
    network.to(separator.device)
    return estimate


def run_queries(separator: Separator, mixtures: torch.Tensor, queries: list[str], batch_size: int) -> torch.Tensor:
    return run_conditions(separator, mixtures, separator.embed(queries), batch_size)


def run_conditions(separator: Separator, mixtures: torch.Tensor, embeddings: torch.Tensor, batch_size: int):
    outputs = [
        separator.separate_chunks(mixtures[i : i + batch_size], embeddings[i : i + batch_size]).cpu()
        for i in range(0, len(embeddings), batch_size)
    ]
    return torch.cat(outputs)


def energy_db(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(numerator.pow(2).sum(-1).clamp_min(1e-12) / denominator.pow(2).sum(-1).clamp_min(1e-12))


def evaluate(
    separator: Separator,
    examples,
    batch_size: int = 16,
    example_pool: SourcePool | None = None,
    sound_classes: tuple[SoundClass, ...] = CLASSES,
    example_offset: int = 0,
) -> dict:
    """`example_pool`: clips to query by example with (`build_example_pool`); the audio-query row is left
    out without it or when the model has no audio-query encoder. `sound_classes`: what the examples'
    class indices refer to (the pool's `classes`)."""
    mixtures = torch.from_numpy(np.stack([e.mixture for e in examples]))
    targets = torch.from_numpy(np.stack([e.target for e in examples]))
    classes = [e.class_index for e in examples]
    labels = [sound_classes[c].label for c in classes]
    captions = [
        sound_classes[c].heldout_captions[i % len(sound_classes[c].heldout_captions)] for i, c in enumerate(classes)
    ]
    rng = np.random.default_rng(0)
    absent = []
    for e in examples:  # a class that is not in the mixture, nor overlaps one that is (drums vs snare drum)
        present = [sound_classes[c].label for c in (e.class_index, *e.interferer_classes)]
        others = [s.label for s in sound_classes if not any(conflicting(s.label, p) for p in present)]
        absent.append(str(rng.choice(others)))

    rows = {
        "mixture (floor)": improvements(mixtures, mixtures, targets),
        "label query": improvements(run_queries(separator, mixtures, labels, batch_size), mixtures, targets),
        "held-out caption query": improvements(
            run_queries(separator, mixtures, captions, batch_size), mixtures, targets
        ),
    }
    if example_pool is not None and separator.audio_encoder is not None:
        conditions = example_conditions(separator, example_pool, examples, example_offset)
        rows[AUDIO_QUERY] = improvements(run_conditions(separator, mixtures, conditions, batch_size), mixtures, targets)
    rows["oracle IRM (ceiling)"] = improvements(oracle_irm(separator, mixtures, targets), mixtures, targets)
    absent_out = run_queries(separator, mixtures, absent, batch_size)
    per_class = defaultdict(lambda: defaultdict(list))
    for i, c in enumerate(classes):
        for name, scores in rows.items():
            per_class[sound_classes[c].label][name].append(scores["sdri"][i].item())
    return {
        **vocabulary_rates(separator, sound_classes),
        "mixtures": len(examples),
        "mean": {name: {k: v.mean().item() for k, v in scores.items()} for name, scores in rows.items()},
        "per_class_sdri": {label: {k: float(np.mean(v)) for k, v in d.items()} for label, d in per_class.items()},
        "absent_query_output_to_mixture_db": energy_db(absent_out, mixtures).mean().item(),
    }


def vocabulary_rates(separator: Separator, sound_classes: tuple[SoundClass, ...]) -> dict:
    """Held-out captions accepted and out-of-vocabulary queries refused at the model's threshold
    (a closed vocabulary only)."""
    vocabulary = separator.vocabulary
    if vocabulary is None or vocabulary.threshold is None:
        return {}
    known = [s for s in sound_classes if s.label in vocabulary.labels]
    heldout = [caption for sound in known for caption in sound.heldout_captions]
    accepted = [m.similarity >= vocabulary.threshold for m in vocabulary.match(separator.embed(heldout))]
    refused = [m.similarity < vocabulary.threshold for m in vocabulary.match(separator.embed(list(OUT_OF_VOCABULARY)))]
    return {
        "unknown_query_threshold": vocabulary.threshold,
        "heldout_captions_accepted": float(np.mean(accepted)),
        "unknown_queries_refused": float(np.mean(refused)),
    }


def markdown(result: dict, title: str) -> str:
    mean = result["mean"]
    columns = [name for name in mean if name != "mixture (floor)"]
    lines = [
        f"### {title} ({result['mixtures']} mixtures, 4 s)",
        "",
        "| | SDRi (dB) | SI-SDRi (dB) |",
        "|---|---|---|",
        *(f"| {name} | {s['sdri']:.2f} | {s['si_sdri']:.2f} |" for name, s in mean.items()),
        "",
        f"Query for a class absent from the mixture: output energy {result['absent_query_output_to_mixture_db']:.1f} dB "
        "relative to the mixture."
        + (
            f" Unknown-query threshold {result['unknown_query_threshold']:.3f}: held-out captions accepted "
            f"{result['heldout_captions_accepted']:.1%}, out-of-vocabulary queries refused "
            f"{result['unknown_queries_refused']:.1%}."
            if "unknown_query_threshold" in result
            else ""
        ),
        "",
        f"| class | {' | '.join(f'{name}: SDRi' for name in columns)} |",
        "|---" * (len(columns) + 1) + "|",
        *(
            f"| {label} | {' | '.join(f'{d[name]:.2f}' for name in columns)} |"
            for label, d in result["per_class_sdri"].items()
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a project checkpoint (default: the bundled model)")
    parser.add_argument("--query-audio", help="the checkpoint's audio-query encoder, if it has one")
    parser.add_argument("--corpus", default=".cache/corpus")
    parser.add_argument("--split", default="test", choices=["test", "independent"])
    parser.add_argument("--clips-per-class", type=int, default=25)
    parser.add_argument("--mixtures", type=int, default=390)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--example-clips-per-class", type=int, default=5, help="clips to query by example with")
    args = parser.parse_args(argv)

    if args.checkpoint:
        separator = Separator.from_checkpoint(args.checkpoint, query_audio=args.query_audio)
    else:
        separator = Separator.from_pretrained("bundled")
    corpus = Path(args.corpus)
    real = (corpus / args.split / "manifest.json").exists() and SourcePool.load(corpus / args.split).kind == "real"
    if real:  # the real-recordings split, rendered by `python -m training.corpus build-real`
        pool = SourcePool.load(corpus / args.split)
        example_pool, offset, name = pool, len(pool.clips[0]) // 2, f"real-{args.split}"
    else:
        pool = SourcePool.load(build_pool(corpus, args.split, args.clips_per_class, separator.sample_rate))
        example_pool = build_example_pool(corpus / "examples", args.example_clips_per_class, separator.sample_rate)
        offset, name = 0, args.split
    examples = held_out_set(pool, args.mixtures, int(args.seconds * separator.sample_rate), args.seed)
    result = evaluate(separator, examples, example_pool=example_pool, sound_classes=pool.classes, example_offset=offset)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"quality-{name}.json").write_text(json.dumps(result, indent=1))
    table = markdown(result, f"split `{name}`")
    (RESULTS / f"quality-{name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

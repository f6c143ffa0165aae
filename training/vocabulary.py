"""The bundled model's vocabulary and the similarity below which a text query is refused as
unknown, chosen on validation and written into the weights (model/vocabulary.py reads it).

    python -m training.vocabulary                     # the shipped weights, in place
    python -m training.vocabulary --weights runs/x.pt

The vocabulary is every class's label and training captions. The threshold is chosen so that the
held-out captions (wordings never trained on) are accepted (>= 99 %) and the out-of-vocabulary
queries below (sounds no class covers, and texts that are no sound at all) refused (>= 95 %):
halfway between the two where both hold, else at the acceptance bound (refusing a good query is
worse than answering a bad one). Both rates are printed and written to training/results/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from model.checkpoint import update_metadata
from model.encoders.text import MiniLMEncoder
from model.separator import PRETRAINED
from model.vocabulary import Vocabulary
from training.corpus import CLASSES, SoundClass

RESULTS = Path(__file__).parent / "results"
ACCEPTED_SHARE, REFUSED_SHARE = 0.99, 0.95
# Queries the vocabulary must not claim: texts that name no sound, sounds the corpus left out as too
# thin (cat, clock, camera, coins, baby: training/corpus/real.py), and everyday sounds no class
# covers. Keep it outside the class list (training/corpus/classes.py) when classes are added.
OUT_OF_VOCABULARY = (
    "xyzzy plugh", "asdf qwerty", "lorem ipsum dolor sit amet", "the stock market", "my tax return",
    "quantum chromodynamics", "a good idea", "the colour blue", "yesterday's weather report", "a recipe for soup",
    "a cat meowing", "a kitten purring", "a clock ticking", "a photocopier", "a camera shutter",
    "coins jingling in a pocket", "a baby crying", "an infant wailing", "a zipper being pulled", "a squeaky shoe",
    "a fax machine", "a ping pong ball bouncing", "velcro being torn", "a stapler", "a spoon stirring tea",
    "chewing gum", "someone yawning", "a pen scribbling", "a light switch clicking", "shuffling playing cards",
)  # fmt: skip


def vocabulary_classes(classes: tuple[SoundClass, ...]) -> list[dict]:
    """What the weights carry: each class's label and its training captions (not the held-out ones)."""
    return [{"label": sound.label, "texts": list(sound.captions)} for sound in classes]


def choose_threshold(vocabulary: Vocabulary, embed, classes: tuple[SoundClass, ...]) -> tuple[float, dict]:
    """The threshold and how it does: acceptance of held-out captions, refusal of unknown queries."""
    heldout = [caption for sound in classes for caption in sound.heldout_captions]
    accepted = np.array([m.similarity for m in vocabulary.match(embed(heldout), top=1)])
    refused = np.array([m.similarity for m in vocabulary.match(embed(list(OUT_OF_VOCABULARY)), top=1)])
    accept_bound = float(np.quantile(accepted, 1 - ACCEPTED_SHARE, method="lower"))  # accept s >= this
    refuse_bound = float(np.quantile(refused, REFUSED_SHARE, method="higher"))  # refuse s < a value above this
    threshold = (accept_bound + refuse_bound) / 2 if refuse_bound < accept_bound else accept_bound
    threshold = round(threshold, 4)
    report = {
        "threshold": threshold,
        "heldout_captions": len(heldout),
        "heldout_accepted": float((accepted >= threshold).mean()),
        "unknown_queries": len(refused),
        "unknown_refused": float((refused < threshold).mean()),
        "heldout_lowest": sorted(zip(accepted.tolist(), heldout))[:5],
        "unknown_highest": sorted(zip(refused.tolist(), OUT_OF_VOCABULARY), reverse=True)[:5],
    }
    return threshold, report


def write_vocabulary(
    weights: Path, encoder: MiniLMEncoder | None = None, classes: tuple[SoundClass, ...] = CLASSES
) -> dict:
    """Choose the threshold for `classes` (what the weights were trained on) and store both in
    `weights`; returns the report."""
    encoder = encoder or MiniLMEncoder()
    vocabulary = Vocabulary(vocabulary_classes(classes), encoder.encode)
    threshold, report = choose_threshold(vocabulary, encoder.encode, classes)
    vocabulary.threshold = threshold
    update_metadata(weights, **vocabulary.to_metadata())
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=PRETRAINED["bundled"])
    args = parser.parse_args(argv)
    with torch.inference_mode():
        report = write_vocabulary(args.weights)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vocabulary.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

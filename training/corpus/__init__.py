"""The synthetic training corpus: sound classes, clip rendering, and mixtures for training.

Typical use::

    pool_dir = build_pool(Path(".cache/corpus"), "train", clips_per_class=80)
    sampler = MixtureSampler(SourcePool.load(pool_dir), segment_samples=32_000, seed=0)
    mixture, target, class_index = sampler.sample(16)
"""

from .classes import CLASSES, SoundClass
from .mixing import MixtureSampler, fixed_mixtures
from .pool import SPLIT_SEEDS, SourcePool, build_pool
from .sources import SPLITS

__all__ = [
    "CLASSES",
    "SPLITS",
    "SPLIT_SEEDS",
    "MixtureSampler",
    "SoundClass",
    "SourcePool",
    "build_pool",
    "fixed_mixtures",
]

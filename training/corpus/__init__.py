"""The training corpora: sound classes, clip rendering, and mixtures for training.

Two corpora share one pool format and one sampler:

- synthetic (``build_pool``): the 13 ``CLASSES`` rendered by speech engines, General MIDI and
  procedural generators;
- real recordings (``build_real_pool``): the ``ALL_CLASSES`` vocabulary (the 13 first, then the
  real classes), rendered from Debian packages listed in the committed ``real_manifest.csv.gz``
  (``make corpus-packages`` fetches them), with the synthetic generators beside them for the 13.

Typical use::

    pool_dir = build_real_pool(Path(".cache/corpus-real"), "train", clips_per_class=80)
    pool = SourcePool.load(pool_dir)                      # pool.classes: what its indices mean
    sampler = MixtureSampler(pool, segment_samples=32_000, seed=0)   # real pools mix realistically
    mixture, target, class_index = sampler.sample(16)    # a silent target: the class is absent
"""

from .classes import ALL_CLASSES, CLASSES, REAL_CLASSES, SoundClass, conflicting
from .mixing import CLEAN, REALISTIC, MixtureSampler, Realism, fixed_mixtures
from .pool import SPLIT_SEEDS, SourcePool, build_pool
from .realpool import REAL_SPLIT_SEEDS, build_real_pool
from .sources import SPLITS

__all__ = [
    "ALL_CLASSES",
    "CLASSES",
    "CLEAN",
    "REALISTIC",
    "REAL_CLASSES",
    "REAL_SPLIT_SEEDS",
    "SPLITS",
    "SPLIT_SEEDS",
    "MixtureSampler",
    "Realism",
    "SoundClass",
    "SourcePool",
    "build_pool",
    "build_real_pool",
    "conflicting",
    "fixed_mixtures",
]

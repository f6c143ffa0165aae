import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # any attempt to reach a model hub fails loudly

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bundled():
    from model import Separator

    return Separator.from_pretrained("bundled")


@pytest.fixture(scope="session")
def heldout_pool():
    """Two clips per class of the held-out `test` split (other seeds, voices and melodies than
    training), rendered once into .cache/ and reused by later runs."""
    from training.corpus import SourcePool, build_pool

    return SourcePool.load(build_pool(REPO / ".cache/test-corpus", "test", clips_per_class=2, progress=False))


@pytest.fixture(scope="session")
def heldout_mixtures(heldout_pool):
    """26 fixed 4 s mixtures at 16 kHz, two per class."""
    from training.quality import held_out_set

    return held_out_set(heldout_pool, 26, 4 * 16000, seed=7)


@pytest.fixture(scope="session")
def audio_file():
    """Real audio bytes made on the spot: a sine per channel plus a little noise."""
    import io

    import numpy as np
    import soundfile as sf

    def make(seconds: float, rate: int, channels: int = 1, format: str = "WAV", subtype: str | None = None,
             seed: int = 0) -> bytes:
        rng = np.random.default_rng(seed)
        t = np.arange(round(seconds * rate)) / rate
        tones = [0.3 * np.sin(2 * np.pi * (220 + 110 * c + 7 * seed) * t) for c in range(channels)]
        samples = np.stack(tones, axis=1) + 0.05 * rng.standard_normal((len(t), channels))
        buffer = io.BytesIO()
        sf.write(buffer, samples.astype(np.float32), rate, format=format, subtype=subtype)
        return buffer.getvalue()

    return make

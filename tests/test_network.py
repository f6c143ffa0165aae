"""The network on its own: compiled (torch.compile) it answers what eager answers, for every shape
the batcher forms, once warm-up has run the few shapes that stand for the rest."""

import pytest
import torch
import torch._dynamo

from model.network import Network
from model.resunet import ResUNet, ResUNetConfig

# A small network of the same layout, so that compiling takes seconds, not minutes.
SMALL = ResUNetConfig(sample_rate=8000, n_fft=128, hop_length=64, channels=(4, 8, 8), pools=((2, 2), (2, 2), (1, 2)),
                      condition_size=8)  # fmt: skip
WINDOW = 64 * SMALL.time_multiple * 8  # 8 grid steps
GRID = 64 * SMALL.time_multiple


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    model = ResUNet(SMALL)
    for module in model.modules():  # weights and statistics away from their defaults, as trained ones are
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2)
    return Network(model, "cpu"), Network(model, "cpu", compile=True)


def test_compiling_leaves_the_callers_model_eager(networks):
    eager, compiled = networks
    assert compiled.model is not eager.model and "padded" not in vars(eager.model.base)


def test_after_warm_up_every_shape_runs_compiled_without_compiling_again_and_answers_as_eager(networks):
    eager, compiled = networks
    conditions = torch.nn.functional.normalize(torch.randn(4, SMALL.condition_size), dim=1)
    for length in range(WINDOW, 0, -GRID):  # what the instances warm up: every multiple of the grid ...
        for batch in (1, 2):  # ... at batch sizes 1, 2 (and max_batch)
            compiled(torch.randn(batch, length), conditions[:batch])
    generator = torch.Generator().manual_seed(1)
    with torch._dynamo.config.patch(error_on_recompile=True):  # a new graph now would fail the test
        for batch, length in [(1, WINDOW - 1), (3, WINDOW), (2, GRID + 7), (4, 3 * GRID + 123), (1, GRID), (2, 5555)]:
            chunks = 0.1 * torch.randn(batch, length, generator=generator)
            expected, got = eager(chunks, conditions[:batch]), compiled(chunks, conditions[:batch])
            assert got.shape == (batch, length)
            assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4), (batch, length, (got - expected).abs().max())

"""`Network`: the separation network on its device, the one batched forward pass every caller runs.

    network = Network(resunet, device="cpu", dtype="float32", compile=False)
    separated = network(chunks [B, T], conditions [B, D])      # -> [B, T] float32, on the device

`Separator.separate_chunks` is this; the service's model instances (separate processes) hold one
each and nothing else of the model (no text encoder). `compile=True` runs the network through
`torch.compile` (inductor) with dynamic shapes, so that the few shapes a batcher forms (batch sizes,
window lengths) share compiled graphs rather than each paying its own compilation; outputs equal
eager's to float rounding (tested). Where compiled artifacts are kept on disk is inductor's own
business (its cache directory); the caller points it somewhere that outlives a restart.

`load_network(kind, path)` reads only the network's weights: a project checkpoint or the official
AudioSep release, without the query encoders.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import torch

from model.checkpoint import load_audiosep_resunet, load_checkpoint
from model.resunet import ResUNet, ResUNetConfig

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Network:
    def __init__(
        self,
        model: ResUNet,
        device: str | torch.device | None = None,
        dtype: str = "float32",
        compile: bool = False,
        compile_mode: str | None = None,
    ):
        """`compile_mode`: torch.compile's mode (e.g. "reduce-overhead": CUDA graphs); None, its default."""
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.device = torch.device(device) if device is not None else default_device()
        if dtype == "float16" and self.device.type != "cuda":
            raise ValueError("float16 needs a CUDA device; use bfloat16 or float32 on CPU")
        self.dtype = dtype
        self.model = model.eval().to(self.device)
        self.compiled = compile
        if compile:  # on a copy: the caller's model stays eager
            self.model = copy.deepcopy(self.model)
            compile_body(self.model, compile_mode)

    @property
    def config(self) -> ResUNetConfig:
        return self.model.config

    def autocast(self):
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def __call__(self, chunks: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """[B, T] waveforms at the model rate + [B, D] conditions -> [B, T] separated waveforms."""
        with torch.inference_mode(), self.autocast():
            out = self.model(chunks.to(self.device, torch.float32)[:, None], conditions.to(self.device))
        return out[:, 0].float()


def compile_body(model: ResUNet, mode: str | None = None) -> None:
    """Route the model's convolutions (`UNetBody.padded`) through torch.compile, in place.

    Dynamic shapes, so one graph serves every window length and batch size (but batch 1, which
    dynamo always specialises) instead of a compilation per shape. Two things would pin shapes:
    torch.istft's `length` (so the transforms stay eager: little of the work), and the pooling's
    divisibility (a length whose frames split differently would compile again): the frames go in
    folded as [k, time_multiple], so that every pooling divides k x time_multiple evenly by
    construction."""
    body, multiple = model.base, model.config.time_multiple
    compiled = torch.compile(_unfolded, dynamic=True, mode=mode)

    def padded(x: torch.Tensor, film: dict) -> torch.Tensor:
        batch, channels, frames, bins = x.shape
        return compiled(body, x.view(batch, channels, frames // multiple, multiple, bins), film)

    body.padded = padded  # the instance's own: `forward` calls this one


def _unfolded(body, folded: torch.Tensor, film: dict) -> torch.Tensor:
    batch, channels, k, multiple, bins = folded.shape
    return type(body).padded(body, folded.reshape(batch, channels, k * multiple, bins), film)


def load_network(kind: str, path: Path | str) -> ResUNet:
    """The network alone from a checkpoint: `kind` "project" (this project's format, weights + config)
    or "audiosep" (the official release's checkpoint)."""
    if kind == "audiosep":
        return load_audiosep_resunet(path)
    if kind == "project":
        return load_checkpoint(path)[0]
    raise ValueError(f"unknown checkpoint kind {kind!r}: project or audiosep")

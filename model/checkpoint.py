"""Checkpoint formats: the official AudioSep Lightning file and the project's own.

Loading is strict everywhere: a missing, unexpected or mis-shaped tensor is an error that lists
them, never a silently half-loaded network.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import torch

from model.files import require_file
from model.resunet import ResUNet, ResUNetConfig

AUDIOSEP_PREFIX = "ss_model."
# torchlibrosa's fixed STFT/ISTFT kernels: torch.stft/istft compute the same transform.
AUDIOSEP_IGNORED = ("base.stft.", "base.istft.")
PROJECT_FORMAT = "textsep-resunet/1"


class StateDictMismatch(ValueError):
    def __init__(self, source: str, missing: list[str], unexpected: list[str], misshaped: list[str]):
        self.missing, self.unexpected, self.misshaped = missing, unexpected, misshaped
        parts = [f"{source} does not match the network:"]
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                parts.append(f"  {len(keys)} {title}: " + ", ".join(keys))
        super().__init__("\n".join(parts))


def load_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshaped = sorted(
        f"{k} (file {tuple(state_dict[k].shape)}, network {tuple(expected[k].shape)})"
        for k in set(expected) & set(state_dict)
        if state_dict[k].shape != expected[k].shape
    )
    if missing or unexpected or misshaped:
        raise StateDictMismatch(source, missing, unexpected, misshaped)
    model.load_state_dict(state_dict, strict=True)


def torch_load(path: Path) -> object:
    """Tensors-only unpickling first; Lightning files may carry hyper-parameter objects, so fall
    back to a full load of what is, by construction, the user's own local file."""
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises several types for a file that is no checkpoint
        raise ValueError(f"{path} is not a PyTorch checkpoint: {error}") from error


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint file: under "state_dict" (Lightning, LAION) or bare."""
    checkpoint = torch_load(path)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no state dict")
    return state


def audiosep_resunet_state(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The separation network's tensors out of an official (Lightning) state dict."""
    network = {
        key[len(AUDIOSEP_PREFIX) :]: tensor
        for key, tensor in state.items()
        if key.startswith(AUDIOSEP_PREFIX) and not key[len(AUDIOSEP_PREFIX) :].startswith(AUDIOSEP_IGNORED)
    }
    if not network:
        raise ValueError(f"{source} has no '{AUDIOSEP_PREFIX}*' tensors: is it an AudioSep checkpoint?")
    return network


def load_audiosep_resunet(path: Path | str) -> ResUNet:
    """The official ResUNet30 with the weights of `audiosep_base_4M_steps.ckpt`, in eval mode."""
    path = require_file(path, "AudioSep checkpoint")
    model = ResUNet.from_preset("audiosep-base")
    load_strict(model, audiosep_resunet_state(load_state_dict_file(path), str(path)), str(path))
    return model.eval()


def save_network(path: Path | str, file_format: str, config: dict, network: torch.nn.Module, **metadata) -> None:
    """A network's weights, the config they were trained with and any metadata, written atomically
    (an interrupted save never leaves a truncated file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": file_format, "config": config, "state_dict": network.state_dict(), **metadata}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_network(
    path: Path | str, file_format: str, build: Callable[[dict], torch.nn.Module], what: str
) -> tuple[torch.nn.Module, dict]:
    """A file `save_network` wrote -> (the network `build(config)` makes, loaded strictly, in eval
    mode; the rest of the file's metadata)."""
    path = require_file(path, what)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a {file_format} file: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise ValueError(f"{path} is not a {file_format} file")
    network = build(payload["config"])
    load_strict(network, payload["state_dict"], str(path))
    metadata = {k: v for k, v in payload.items() if k not in ("format", "config", "state_dict")}
    return network.eval(), metadata


def save_checkpoint(path: Path | str, model: ResUNet, **metadata) -> None:
    """The project's format: the weights plus the config they were trained with."""
    save_network(path, PROJECT_FORMAT, model.config.to_dict(), model, **metadata)


def load_checkpoint(path: Path | str) -> tuple[ResUNet, dict]:
    """A project checkpoint -> (network in eval mode, the rest of the file's metadata)."""
    return load_network(
        path, PROJECT_FORMAT, lambda config: ResUNet(ResUNetConfig.from_dict(config)), "model checkpoint"
    )


def update_metadata(path: Path | str, **metadata) -> None:
    """Add or replace metadata in a file `save_network` wrote, keeping its weights; atomically."""
    path = require_file(path, "checkpoint")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload.update(metadata)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)

"""Separation quality, as AudioSep reports it: SDR (signal-to-distortion, no scale invariance),
SI-SDR, and their improvement over the unprocessed mixture. Computed by torchmetrics."""

from __future__ import annotations

import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio, signal_noise_ratio


def sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """10 log10(|s|^2 / |s - s_hat|^2) per item over the last axis, in dB."""
    return signal_noise_ratio(estimate, reference)


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return scale_invariant_signal_distortion_ratio(estimate, reference)


def improvements(estimate: torch.Tensor, mixture: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """SDRi and SI-SDRi per item: the metric of the estimate minus that of the mixture itself."""
    return {
        "sdri": sdr(estimate, target) - sdr(mixture, target),
        "si_sdri": si_sdr(estimate, target) - si_sdr(mixture, target),
    }

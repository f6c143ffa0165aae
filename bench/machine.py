"""What the numbers were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": gpu,
        "load": os.getloadavg(),  # 1, 5 and 15 minute load averages when the run began
    }


def describe(device: torch.device) -> str:
    info = machine()
    where = info["gpu"] if device.type == "cuda" else f"{info['cpu']}, {info['cores']} cores"
    return f"{device} ({where}), torch {info['torch']}, {info['torch_threads']} threads"

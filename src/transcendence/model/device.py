"""Which device a stage runs on (``auto`` is the GPU when there is one, else the CPU), and
what about that device decides a result's last bits."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_name() -> str:
    """The CPU's model name as the kernel reports it (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compute_description(device: torch.device) -> dict[str, str]:
    """What, besides the code, the data and the seed, decides a trained model's bits.

    PyTorch picks its CPU kernels by the instructions the CPU has (AVX2, AVX512, ...), and
    kernels of different widths round differently, so the same seed gives the same
    checkpoint on one machine but not across machines. The trainers record this beside
    their timings, so two runs that differ can be told apart from a bug.
    """
    description = {"torch": torch.__version__, "cpu": cpu_name(),
                   "cpu_capability": torch.backends.cpu.get_cpu_capability(), "device": str(device)}
    if device.type == "cuda":
        description["gpu"] = torch.cuda.get_device_name(device)
    return description

"""Checkpoints of both model families: written byte-reproducibly, read back as the model.

Every stage after training loads a model through :func:`load_model`, whichever family wrote
it, so evaluation and the analyses depend on the model package, not on the training loop.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

import torch

from ..files import atomic_path
from .board_network import BoardNet, BoardNetConfig
from .gpt import GPT, GPTConfig


def save_atomic(path: str | Path, obj: object) -> None:
    """``torch.save`` through memory, then an atomic write.

    Saving straight to a temporary file would embed its random name in the archive, and
    two identical checkpoints would then differ in their bytes.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def save_model(path: str | Path, model: GPT, extra: Mapping[str, object]) -> None:
    """The evaluated checkpoint: weights and model config only, written atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_atomic(path, {"model_config": model.config.to_dict(), "state_dict": state, **extra})


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """The evaluated model of a checkpoint, of whichever family wrote it (GPT or board network)."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if ckpt.get("family", "text") == "board":
        return load_board_model(ckpt, device)
    model = GPT(GPTConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


def save_board_model(path: str | Path, model: BoardNet, extra: dict) -> None:
    """The evaluated checkpoint: family, network config and weights, written atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_atomic(path, {"family": "board", "model_config": model.config.to_dict(), "state_dict": state, **extra})


def load_board_model(ckpt: dict, device: str | torch.device) -> BoardNet:
    """The network of a loaded board checkpoint, in eval mode on ``device``."""
    model = BoardNet(BoardNetConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()

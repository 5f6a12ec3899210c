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


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, holds no model, or is of another model family."""


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu", *,
                    weights_only: bool = True) -> dict:
    """``torch.load`` of a checkpoint, or :class:`CheckpointError` naming the file and what is wrong."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=weights_only)
    except FileNotFoundError:
        raise
    # Damaged bytes reach torch.load as many types (a truncated archive: OSError or RuntimeError;
    # a text file: UnpicklingError or IndexError), none naming the file.
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated, or not one at all): "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu", family: str | None = None):
    """The evaluated model of a checkpoint, of whichever family wrote it (GPT or board network).

    ``family`` (the config's ``model.family``), when given, must be the checkpoint's: a model of
    the other family would be played without a word (the board network in ``legal_moves``).
    """
    ckpt = read_checkpoint(path, device)
    found = ckpt.get("family", "text")
    if family is not None and found != family:
        raise CheckpointError(f"{path} is a {found}-family checkpoint, but model.family is {family}")
    if not {"model_config", "state_dict"} <= ckpt.keys():
        raise CheckpointError(f"{path} holds no model: its keys are {sorted(ckpt)}, "
                              "not model_config and state_dict")
    try:
        if found == "board":
            return load_board_model(ckpt, device)
        model = GPT(GPTConfig(**ckpt["model_config"]))
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError) as exc:  # a config or weights of another shape
        raise CheckpointError(f"{path} does not hold a {found}-family model: {exc}") from exc
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

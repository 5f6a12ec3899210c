"""Checkpoints of every model family: written byte-reproducibly, read back with a clear error.

Which network a checkpoint holds is its family's business (``transcendence.families.load_model``
reads it); here is what all of them share: the atomic, reproducible write and the read that
names the file when it is not a checkpoint.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

import torch

from ..files import atomic_path


def save_atomic(path: str | Path, obj: object) -> None:
    """``torch.save`` through memory, then an atomic write.

    Saving straight to a temporary file would embed its random name in the archive, and
    two identical checkpoints would then differ in their bytes.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def save_model(path: str | Path, model: torch.nn.Module, extra: Mapping[str, object], *,
               family: str | None = None) -> None:
    """The evaluated checkpoint: the family's name (None writes none: the format of the text
    family's checkpoints, which came before there were families), the network's config
    (``model.config.to_dict()``) and weights, then ``extra``; written atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    named = {"family": family} if family is not None else {}
    save_atomic(path, {**named, "model_config": model.config.to_dict(), "state_dict": state, **extra})


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

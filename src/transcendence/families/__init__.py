"""The model families and their registry: ``model.family`` and a checkpoint name one of them.

A family is one folder here (``text/``, ``board/``, ...) holding a :class:`~.base.Family` and
everything that depends on its kind of model; adding one is that folder, its line below and
its name in the schema's ``model.family`` enum. The stages hold a family and ask it; no code
outside this package asks which family it is (``tests/test_layout.py`` checks it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Family, MovePolicy, Request
from .board import BoardFamily
from .linear import LinearFamily
from .text import TextFamily

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILIES", "UNNAMED", "Family", "MovePolicy", "Request", "family_named", "family_of", "load_model",
           "model_player"]

FAMILIES: dict[str, Family] = {family.name: family for family in (TextFamily(), BoardFamily(), LinearFamily())}
# A checkpoint or a training job that names no family is the text family's: it came first.
UNNAMED = TextFamily.name


def family_named(name: str) -> Family:
    """The family called ``name`` (the config's ``model.family``)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; the families are {', '.join(FAMILIES)}") from None


def family_of(model: torch.nn.Module) -> Family:
    """The family whose network ``model`` is."""
    for family in FAMILIES.values():
        if isinstance(model, family.network_type()):
            return family
    raise ValueError(f"a {type(model).__name__} is the network of no model family")


def model_player(name: str) -> bool:
    """Whether a player name of a PGN header is a model's (``<label>-cap<cap>``, :meth:`Family.player_name`)."""
    return _MODEL_NAME.match(name) is not None


_MODEL_NAME = re.compile(rf"^({'|'.join(re.escape(f.label) for f in FAMILIES.values())})-cap\d+$")


def load_model(path: str | Path, device: str | torch.device = "cpu", family: str | None = None) -> torch.nn.Module:
    """The evaluated model of a checkpoint, of whichever family wrote it.

    ``family`` (the config's ``model.family``), when given, must be the checkpoint's: a model of
    another family would be played without a word (the board network in ``legal_moves``).
    """
    from ..model.checkpoint import CheckpointError, read_checkpoint

    ckpt = read_checkpoint(path, device)
    found = ckpt.get("family", UNNAMED)
    if family is not None and found != family:
        raise CheckpointError(f"{path} is a {found}-family checkpoint, but model.family is {family}")
    if not {"model_config", "state_dict"} <= ckpt.keys():
        raise CheckpointError(f"{path} holds no model: its keys are {sorted(ckpt)}, "
                              "not model_config and state_dict")
    if found not in FAMILIES:
        raise CheckpointError(f"{path} is a {found}-family checkpoint, a family this package does not know")
    try:
        return FAMILIES[found].load_network(ckpt, device)
    except (TypeError, RuntimeError) as exc:  # a config or weights of another shape
        raise CheckpointError(f"{path} does not hold a {found}-family model: {exc}") from exc

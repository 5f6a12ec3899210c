"""The players of a config, parsed once: the data's synthetic players and the evaluation's opponents."""

from __future__ import annotations

from typing import Mapping, Sequence

from ..engine.limit import LimitLike
from .mistakes import MistakeRule
from .player import Player


def synthetic_players(entries: Sequence[Mapping[str, object]], limit: LimitLike,
                      mistakes: Mapping[str, object] | None, seed: int) -> list[Player]:
    """``synthetic.players``, each at ``synthetic.limit`` and erring by ``synthetic.mistakes``."""
    rule = MistakeRule.from_config(mistakes, seed)
    return [Player.synthetic(entry, limit, rule) for entry in entries]


def opponents(entries: Sequence[Mapping[str, object]], mistakes: Mapping[str, object] | None, seed: int,
              personas: Mapping[str, str] = {}) -> list[Player]:
    """``evaluate.opponents``: an eps-opponent errs by the data's rule (``synthetic.mistakes``;
    none: independent) with the persona of the synthetic player of its name, so an opponent
    named like a synthetic player is that player."""
    rule = MistakeRule.from_config(mistakes, seed)
    return [Player.from_config({"persona": personas.get(str(e["name"]), "uniform"), **e}, rule) for e in entries]

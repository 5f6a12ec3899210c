"""The eps-player: the base engine's move with probability 1 - eps, else a mistake.

One type for every stage: the synthetic players whose games make the data, the
calibration's round robin, the evaluation's opponents and the expected-reward analysis all
hold a :class:`Player`, so a player named ``eps0.75`` errs the same way wherever it plays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Mapping

import chess

from ..engine.limit import EngineLimit, LimitLike
from .mistakes import INDEPENDENT, PERSONAS, MistakeRule

ENGINE_OPTIONS = {"Threads": 1, "Hash": 16}


@dataclass(frozen=True)
class Player:
    """Stockfish at ``limit`` (and a Skill Level, options), erring with probability ``eps``.

    ``rating`` is the configured one: a synthetic player's ``elo`` (an integer, written in
    its games' headers) or an opponent's anchor rating.
    """

    name: str
    rating: float
    limit: EngineLimit
    eps: float = 0.0
    persona: str = "uniform"
    mistakes: MistakeRule = INDEPENDENT
    skill_level: int | None = None
    options: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit", EngineLimit.parse(self.limit))
        if self.persona not in PERSONAS:
            raise ValueError(f"player {self.name!r}: unknown persona {self.persona!r}; use one of {PERSONAS}")
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"player {self.name!r}: eps must lie in [0, 1]; got {self.eps!r}")

    @classmethod
    def synthetic(cls, entry: Mapping[str, object], limit: LimitLike,
                  mistakes: MistakeRule = INDEPENDENT) -> "Player":
        """A ``synthetic.players`` entry, playing the base engine at ``synthetic.limit``."""
        return cls(name=str(entry["name"]), rating=int(entry["elo"]), limit=EngineLimit.parse(limit),
                   eps=float(entry["eps"]), persona=str(entry.get("persona", "uniform")), mistakes=mistakes)

    @classmethod
    def from_config(cls, entry: Mapping[str, object], mistakes: MistakeRule = INDEPENDENT) -> "Player":
        """An ``evaluate.opponents`` (or ``calibration.anchor``) entry."""
        return cls(name=str(entry["name"]), rating=float(entry["rating"]), limit=EngineLimit.parse(entry["limit"]),
                   eps=float(entry.get("eps", 0.0)), persona=str(entry.get("persona", "uniform")),
                   mistakes=mistakes,
                   skill_level=entry.get("skill_level"), options=dict(entry.get("options", {})))

    @property
    def uses_engine(self) -> bool:
        return self.eps < 1.0

    @property
    def unreproducible_because(self) -> str:
        """Why this player's moves are not a function of the seed and the game, or '' when they are."""
        notes = []
        if self.limit.kind == "time":
            notes.append("a time limit depends on the machine's speed")
        if self.skill_level is not None and self.skill_level < 20:
            notes.append("skill_level: Stockfish seeds its Skill Level choices from the clock")
        return "; ".join(notes)

    @property
    def reproducible(self) -> bool:
        """Whether the same seed and game give this player's same moves on every run."""
        return not self.unreproducible_because

    def engine_options(self) -> dict[str, object]:
        opts: dict[str, object] = {**ENGINE_OPTIONS, **self.options}
        if self.skill_level is not None:
            opts["Skill Level"] = self.skill_level
        return opts

    def mistake(self, board: chess.Board, rng: random.Random) -> chess.Move | None:
        """This move's mistake, or None when the player plays the engine's move.

        A player that never errs draws nothing from the generator.
        """
        if not self.eps or rng.random() >= self.eps:
            return None
        return self.mistakes.draw(board, rng, self.persona)

    def mistake_distribution(self, board: chess.Board) -> dict[chess.Move, float]:
        """Where this player's mistakes fall in ``board`` (the weights :meth:`mistake` draws by)."""
        return self.mistakes.distribution(board, self.persona)

    def describe(self) -> dict[str, object]:
        """What decides this player's moves, as fingerprints and outputs record it."""
        out: dict[str, object] = {"name": self.name, "rating": self.rating, "limit": self.limit.to_config(),
                                  "eps": self.eps, "persona": self.persona}
        if self.eps:
            out["mistakes"] = self.mistakes.to_config()
        if self.skill_level is not None:
            out["skill_level"] = self.skill_level
        if self.options:
            out["options"] = dict(self.options)
        return out

    def mistakes_note(self) -> str:
        """'' for uniform, independent mistakes (the paper's eps-player); else what differs."""
        parts = []
        if self.eps and self.persona != "uniform":
            parts.append(f"persona {self.persona}")
        if self.eps and not self.mistakes.independent:
            parts.append(f"share {self.mistakes.share:g} {self.mistakes.shared}")
        return ", ".join(parts)

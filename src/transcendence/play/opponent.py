"""A fixed engine opponent, as the config describes it: evaluation and calibration share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Opponent:
    """A fixed opponent: Stockfish at a UCI Skill Level and per-move limit, with an
    optional rate ``eps`` of uniformly random moves; ``rating`` is its anchor."""

    name: str
    rating: float
    limit: Mapping[str, float]
    skill_level: int | None = None
    eps: float = 0.0
    options: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_config(cls, entry: Mapping[str, object]) -> "Opponent":
        return cls(name=str(entry["name"]), rating=float(entry["rating"]), limit=dict(entry["limit"]),
                   skill_level=entry.get("skill_level"), eps=float(entry.get("eps", 0.0)),
                   options=dict(entry.get("options", {})))

    def engine_options(self) -> dict[str, object]:
        opts: dict[str, object] = {"Threads": 1, "Hash": 16, **self.options}
        if self.skill_level is not None:
            opts["Skill Level"] = self.skill_level
        return opts

"""The engine's per-move search limit: one typed value, parsed and checked once.

The config writes a limit as a one-key mapping, ``{depth: 10}``, ``{nodes: 5000}`` or
``{time: 0.1}`` (seconds). :class:`EngineLimit` is that mapping as a value, in the style of
python-chess's ``chess.engine.Limit`` (one field per kind), except that exactly one field is
set, since the study always bounds a search one way. It is built from the config's mapping
in one place (:meth:`EngineLimit.parse`), so a wrong limit fails there with a message
naming what is wrong, and it knows the two things the UCI client needs: the ``go``
command and how long a search can take.

The value is kept exactly as the config gave it (``time: 1`` stays the integer 1), so
:meth:`EngineLimit.to_config` writes the same text as the config's own mapping into
outputs and cache keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Mapping, Union

KINDS = ("depth", "nodes", "time")


@dataclass(frozen=True)
class EngineLimit:
    """Search to a ``depth`` (plies), a node count ``nodes``, or for ``time`` seconds: exactly one."""

    depth: int | None = None
    nodes: int | None = None
    time: float | None = None

    def __post_init__(self) -> None:
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if len(given) != 1:
            raise ValueError(f"engine limit must have exactly one of depth, nodes, time; got {given}")
        (kind, value), = given.items()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"engine limit {kind} must be a finite number; got {value!r}")
        if kind != "time" and value != int(value):
            raise ValueError(f"engine limit {kind} must be a whole number; got {value!r}")
        if value <= 0:
            raise ValueError(f"engine limit {kind} must be positive; got {value!r}")

    @classmethod
    def parse(cls, limit: "LimitLike") -> "EngineLimit":
        """The limit of a config mapping such as ``{"depth": 10}`` (an ``EngineLimit`` passes through)."""
        if isinstance(limit, EngineLimit):
            return limit
        if not isinstance(limit, Mapping):
            raise ValueError(f"engine limit must be a mapping like {{depth: 10}}; got {limit!r}")
        if len(limit) != 1:
            raise ValueError(f"engine limit must have exactly one of depth, nodes, time; got {dict(limit)}")
        (kind, value), = limit.items()
        if kind not in KINDS:
            raise ValueError(f"unknown engine limit {kind!r}; use depth, nodes or time")
        return cls(**{kind: value})

    @property
    def kind(self) -> str:
        """``"depth"``, ``"nodes"`` or ``"time"``: the field that is set."""
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    @property
    def value(self) -> float:
        return getattr(self, self.kind)

    def to_config(self) -> dict[str, float]:
        """The config's one-key mapping, value unchanged: what outputs and cache keys record."""
        return {self.kind: self.value}

    def go_command(self) -> str:
        """The UCI ``go`` command that searches to this limit (a time limit in whole ms, at least 1)."""
        if self.kind == "time":
            return f"go movetime {max(1, round(float(self.value) * 1000))}"
        return f"go {self.kind} {int(self.value)}"

    def search_timeout(self, *, margin: float, multipv: int = 1) -> float:
        """Seconds to wait for ``bestmove``: a generous bound on what the search can take, plus ``margin``.

        A time limit takes its time; a node limit at least 20,000 nodes/s (Stockfish searches
        about a million per second on one thread); a depth limit 1 ms times 1.8 per ply (depth
        10: 0.4 s, depth 20: 2 min), times the number of lines searched, since a depth
        iteration searches each ``multipv`` line in turn.
        """
        if self.kind == "time":
            expected = float(self.value)
        elif self.kind == "nodes":
            expected = float(self.value) / 20_000
        else:
            expected = 0.001 * 1.8 ** float(self.value) * max(1, multipv)
        return expected + margin


# What the engine functions accept: a limit, or the config's mapping, parsed on arrival.
LimitLike = Union[EngineLimit, Mapping[str, float]]

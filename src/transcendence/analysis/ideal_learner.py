"""The ideal learner: the exact mixture the synthetic data was drawn from, position by position.

With unlimited data and capacity a learner's policy in position ``x`` is the mixture of the
players who move in its training positions,

    f(m | x) = sum_i w_i [(1 - eps_i) 1{m = engine(x)} + eps_i q_i(m | x)],

with ``w_i`` player i's share of the cap's training positions and ``q_i`` its mistake
distribution (persona and mistake rule). Sampled at temperature T it plays
``p_T ~ f^(1/T)``; T -> 0 is the majority vote. That is the theory's prediction for the
study's own data; the trained model's distance from it is what finite training costs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import chess
import numpy as np

from ..players.player import Player


def mixture_weights(positions_by_player: Mapping[str, int], players: Sequence[Player]) -> dict[str, float]:
    """Each player's share of the training positions (players absent from the data get 0)."""
    counts = {p.name: float(positions_by_player.get(p.name, 0)) for p in players}
    total = sum(counts.values())
    if total <= 0:
        raise ValueError(f"none of the players {sorted(counts)} moves in the cap's training positions")
    return {name: c / total for name, c in counts.items()}


def mixture(board: chess.Board, engine_move: chess.Move, players: Sequence[Player],
            weights: Mapping[str, float],
            mistakes: Mapping[str, Mapping[chess.Move, float]] | None = None) -> dict[chess.Move, float]:
    """f(m | x) over the legal moves of ``board`` (every legal move present, possibly at 0).

    ``mistakes``: each player's :meth:`~Player.mistake_distribution` in ``board``, where the
    caller already has them (else computed here).
    """
    f = {m: 0.0 for m in board.legal_moves}
    for p in players:
        w = weights.get(p.name, 0.0)
        if not w:
            continue
        f[engine_move] += w * (1.0 - p.eps)
        if p.eps:
            q_p = mistakes[p.name] if mistakes is not None else p.mistake_distribution(board)
            for m, q in q_p.items():
                f[m] += w * p.eps * q
    return f


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """p_T proportional to f^(1/T), computed in log space (a move of probability 0 stays 0)."""
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logits = np.log(probs) / temperature
    logits -= logits.max()
    out = np.exp(logits)
    return out / out.sum()


def majority(f: Mapping[chess.Move, float]) -> chess.Move:
    """The vote's winner: the most probable move (python-chess's move order breaks a tie)."""
    return max(f, key=lambda m: f[m])

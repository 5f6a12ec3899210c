"""The model's rating minus the best player's, from one likelihood of all the games.

The transcendence test compares two measured ratings: the model's, from its evaluation
games, and the best player's in its data, from the calibration round robin. Testing the
model's interval against the best player's *point* rating ignores the second measurement's
error, so this module fits both at once: one Bradley-Terry likelihood on the Elo scale (a
draw half a win and half a loss, the anchor fixed) over the calibration games and the
model's games, with the model's rating written as the best player's plus ``d``. The
estimate of ``d`` is the joint maximum, and its interval the profile likelihood's:
``{d : 2 (l_max - max over the other ratings of l(d, ...)) <= chi2_1(level)}``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .systems import bisect_root, chi2_1_quantile

_K = math.log(10.0) / 400.0
# Where the search for d stops: a model that won or lost every game has no finite difference.
_BOUND = 3000.0

Game = tuple[str, str, float]  # (player, opponent, the player's score)


@dataclass(frozen=True)
class Difference:
    """``estimate`` of the model's rating minus the best player's, with its interval.

    ``at_bound``: the likelihood still rose at the search bound (the model won, or lost,
    every game that says anything about it), so the estimate and that end of the interval
    are the bound, not measurements.
    """

    estimate: float
    ci_low: float
    ci_high: float
    at_bound: bool


class _Ladder:
    """The calibration games and the model's games, aggregated by pairing, with one player fixed.

    Row ``k`` of the aggregate is players ``i[k]`` and ``j[k]`` with ``i``'s total score
    ``s[k]`` over ``n[k]`` games; a model row is written as the best player's row with the
    offset ``d`` added to its rating difference.
    """

    def __init__(self, calibration: Sequence[Game], model: Sequence[tuple[str, float]], best: str,
                 anchor: str) -> None:
        names = sorted({g[0] for g in calibration} | {g[1] for g in calibration} | {o for o, _ in model})
        for name, role in ((anchor, "anchor"), (best, "best player")):
            if name not in names:
                raise ValueError(f"the {role} {name!r} played no calibration game (players: {names})")
        index = {n: k for k, n in enumerate(names)}
        rows: dict[tuple[int, int, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for a, b, score in calibration:
            rows[(index[a], index[b], 0)][0] += score
            rows[(index[a], index[b], 0)][1] += 1
        for opponent, score in model:
            rows[(index[best], index[opponent], 1)][0] += score
            rows[(index[best], index[opponent], 1)][1] += 1
        keys = sorted(rows)
        self.i = np.array([k[0] for k in keys])
        self.j = np.array([k[1] for k in keys])
        self.model = np.array([k[2] for k in keys], dtype=float)
        self.s = np.array([rows[k][0] for k in keys])
        self.n = np.array([rows[k][1] for k in keys])
        self.free = [k for k, name in enumerate(names) if name != anchor]
        self.size = len(names)
        self.r = np.zeros(self.size)  # the last fit's ratings: the next fit starts there

    def _x(self, d: float) -> np.ndarray:
        return _K * (self.r[self.i] - self.r[self.j] + d * self.model)

    def log_likelihood(self, d: float) -> float:
        x = self._x(d)
        return float(-np.sum(self.s * np.logaddexp(0.0, -x) + (self.n - self.s) * np.logaddexp(0.0, x)))

    def fit(self, d: float, iterations: int = 100) -> float:
        """The other ratings' maximum with ``d`` fixed (Newton's method); returns the log-likelihood."""
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-self._x(d)))
            residual = _K * (self.s - self.n * p)
            grad = np.zeros(self.size)
            np.add.at(grad, self.i, residual)
            np.add.at(grad, self.j, -residual)
            v = _K * _K * self.n * p * (1.0 - p)
            hess = np.zeros((self.size, self.size))
            np.add.at(hess, (self.i, self.i), -v)
            np.add.at(hess, (self.j, self.j), -v)
            np.add.at(hess, (self.i, self.j), v)
            np.add.at(hess, (self.j, self.i), v)
            step = np.linalg.solve(hess[np.ix_(self.free, self.free)], -grad[self.free])
            self.r[self.free] += np.clip(step, -400.0, 400.0)
            if np.max(np.abs(step)) < 1e-10:
                break
        return self.log_likelihood(d)

    def slope(self, d: float) -> float:
        """d l / d d at the other ratings' maximum (the profile's slope, by the envelope theorem)."""
        self.fit(d)
        p = 1.0 / (1.0 + np.exp(-self._x(d)))
        return float(_K * np.sum(self.model * (self.s - self.n * p)))


def rating_difference(calibration: Sequence[Game], model: Sequence[tuple[str, float]], *, best: str,
                      anchor: str, level: float = 0.95) -> Difference:
    """The model's rating minus ``best``'s, jointly with every calibration player's rating.

    ``calibration`` holds the round robin's games (each player's name, its opponent's and its
    score); ``model`` the model's games as (opponent, the model's score), its opponents being
    calibration players. ``anchor`` is held fixed (its value does not move a difference).
    """
    if not model:
        raise ValueError("the model played no game")
    ladder = _Ladder(calibration, model, best, anchor)
    if ladder.slope(_BOUND) >= 0:
        estimate, at_bound = _BOUND, True
    elif ladder.slope(-_BOUND) <= 0:
        estimate, at_bound = -_BOUND, True
    else:
        estimate, at_bound = bisect_root(ladder.slope, -_BOUND, _BOUND), False
    l_max = ladder.fit(estimate)
    q = chi2_1_quantile(level)

    def inside(d: float) -> float:  # > 0 inside the interval, <= 0 outside
        return q - 2.0 * (l_max - ladder.fit(d))

    low = -_BOUND if inside(-_BOUND) > 0 else bisect_root(lambda d: -inside(d), -_BOUND, estimate)
    high = _BOUND if inside(_BOUND) > 0 else bisect_root(inside, estimate, _BOUND)
    return Difference(estimate, low, high, at_bound)

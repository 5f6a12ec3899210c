"""Colour-swapped game pairs: pentanomial counts and the GSPRT on them, as engine testers score.

Games ``2i`` and ``2i + 1`` of a shard start from the same opening with colours swapped, so a
pair's score (0, 1/2, 1, 3/2 or 2 points) holds the opening's share of the variance once
instead of twice. The sequential test is fishtest's generalised SPRT on those pairs
(Van den Bergh, "Comments on the GSPRT"): the log-likelihood ratio of two expected scores,
each the maximum-likelihood pentanomial distribution with that mean, regularised as fishtest
does so that an empty cell does not make it infinite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A pair's score in points, per game: the pentanomial's five outcomes.
PAIR_SCORES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
# fishtest's regularisation of the counts (LLRcalc.regularize).
_EPSILON = 1e-3


def pair_scores(scores_by_game: Mapping[int, float]) -> list[float]:
    """Each complete pair's mean score (games ``2i`` and ``2i + 1``), in pair order.

    A pair missing one of its games is an error: the evaluation always plays both.
    """
    pairs = sorted({g // 2 for g in scores_by_game})
    out = []
    for p in pairs:
        if 2 * p not in scores_by_game or 2 * p + 1 not in scores_by_game:
            raise ValueError(f"pair {p} lacks game {2 * p if 2 * p not in scores_by_game else 2 * p + 1}")
        out.append((scores_by_game[2 * p] + scores_by_game[2 * p + 1]) / 2.0)
    return out


def pentanomial(pairs: Sequence[float]) -> list[int]:
    """How many pairs scored 0, 1/2, 1, 3/2 and 2 points (of 2)."""
    counts = [0] * 5
    for score in pairs:
        k = round(score * 4)
        if abs(k - score * 4) > 1e-9 or not 0 <= k <= 4:
            raise ValueError(f"a pair's mean score {score!r} is not a multiple of 1/4 in [0, 1]")
        counts[k] += 1
    return counts


def elo_to_score(elo: float) -> float:
    """The logistic expected score of a player ``elo`` points above its opponent."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


def mle_with_mean(probabilities: Sequence[float], mean: float) -> np.ndarray:
    """The distribution on :data:`PAIR_SCORES` closest in likelihood to ``probabilities`` with
    expected value ``mean``: ``p_i = q_i / (1 + lam (a_i - mean))``, ``lam`` the root of
    ``sum q_i (a_i - mean) / (1 + lam (a_i - mean)) = 0`` between the poles (Lagrange)."""
    q = np.asarray(probabilities, dtype=float)
    a = PAIR_SCORES - mean
    if not (a.min() < 0 < a.max()):
        raise ValueError(f"mean {mean!r} must lie strictly between 0 and 1")
    # 1 + lam * a_i > 0 for every i bounds lam to (-1 / max a, -1 / min a).
    low, high = -1.0 / a.max(), -1.0 / a.min()
    for _ in range(200):
        lam = 0.5 * (low + high)
        if float(np.sum(q * a / (1.0 + lam * a))) > 0:  # decreasing in lam
            low = lam
        else:
            high = lam
    p = q / (1.0 + 0.5 * (low + high) * a)
    return p / p.sum()


@dataclass(frozen=True)
class SequentialTest:
    """The GSPRT's hypotheses (Elo of the model over the best player) and error rates."""

    elo0: float = 0.0
    elo1: float = 50.0
    alpha: float = 0.05
    beta: float = 0.05

    @classmethod
    def from_config(cls, section: Mapping[str, float] | None) -> SequentialTest:
        return cls(**{k: float(v) for k, v in (section or {}).items()})

    @property
    def lower(self) -> float:
        """Accept H0 at or below this log-likelihood ratio."""
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def upper(self) -> float:
        """Accept H1 at or above this log-likelihood ratio."""
        return math.log((1.0 - self.beta) / self.alpha)

    def llr(self, counts: Sequence[int]) -> float:
        """The log-likelihood ratio of H1 to H0 after these pentanomial counts."""
        if len(counts) != 5:
            raise ValueError(f"pentanomial counts are five numbers, not {len(counts)}")
        n = np.asarray(counts, dtype=float) + _EPSILON
        q = n / n.sum()
        p0 = mle_with_mean(q, elo_to_score(self.elo0))
        p1 = mle_with_mean(q, elo_to_score(self.elo1))
        return float(np.sum(n * np.log(p1 / p0)))

    def decision(self, llr: float) -> str:
        """``H1`` (the model is ``elo1`` stronger), ``H0`` (``elo0``), or ``continue``."""
        return "H1" if llr >= self.upper else "H0" if llr <= self.lower else "continue"

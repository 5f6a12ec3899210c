"""Ratings of a chess model from games against fixed, rated opponents (Stockfish levels).

Each game is ``(opponent_rating, score)`` with ``score`` in ``{1, 0.5, 0}``; forfeits
(illegal moves) are scored as losses by the caller. Two estimators are provided because
they answer different questions:

* :func:`glicko2_sequential` follows the paper's protocol (Glicko-2, one rating period per
  game, games in the order played). It is what the paper reports, so reproducing its
  numbers needs it, but the result depends on game order and its RD is not a confidence
  interval for a fixed-strength player.
* :func:`elo_mle` is the order-independent maximum-likelihood Elo against the same fixed
  anchors, with a likelihood-ratio interval. It is the estimate to use when comparing
  models, since a fixed model's strength does not change between games.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GLICKO2_SCALE",
    "EloEstimate",
    "Glicko2",
    "bisect_root",
    "chi2_1_quantile",
    "elo_log_likelihood",
    "elo_mle",
    "glicko2_sequential",
    "glicko2_update",
]

#: Factor between the Glicko and Glicko-2 scales (400 / ln 10), as in Glickman (2013).
GLICKO2_SCALE: float = 173.7178
_EPSILON: float = 1e-6  # Glickman's convergence tolerance for the volatility iteration
_LN10_400: float = math.log(10.0) / 400.0


def _check_score(score: float) -> None:
    if not (0.0 <= score <= 1.0):  # also rejects NaN
        raise ValueError(f"score must lie in [0, 1], got {score!r}")


# --------------------------------------------------------------------------- Glicko-2


@dataclass(frozen=True)
class Glicko2:
    """A Glicko-2 rating on the familiar (Glicko) scale: rating, rating deviation, volatility."""

    rating: float
    rd: float
    volatility: float


def _g(phi: float) -> float:
    """Glickman's attenuation factor: an uncertain opponent says less about the player."""
    return 1.0 / math.sqrt(1.0 + 3.0 * phi * phi / (math.pi * math.pi))


def glicko2_update(
    player: Glicko2, games: Sequence[tuple[float, float, float]], tau: float = 0.5
) -> Glicko2:
    """Rate ``player`` after one rating period of ``games`` ``(opp_rating, opp_rd, score)``.

    Implements Glickman, "Example of the Glicko-2 system" (2013) step by step, including
    the Illinois iteration for the new volatility (tolerance 1e-6), so results match the
    reference worked example. A period without games only inflates the RD by the
    volatility, because uncertainty grows while the player is not observed.
    """
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    mu = (player.rating - 1500.0) / GLICKO2_SCALE
    phi = player.rd / GLICKO2_SCALE
    sigma = player.volatility

    if not games:  # step 6 only: phi* = sqrt(phi^2 + sigma^2)
        return Glicko2(player.rating, GLICKO2_SCALE * math.sqrt(phi * phi + sigma * sigma), sigma)

    # Steps 3-4: estimated variance v and improvement delta.
    inv_v = 0.0
    gain = 0.0
    for opp_rating, opp_rd, score in games:
        _check_score(score)
        mu_j = (opp_rating - 1500.0) / GLICKO2_SCALE
        g_j = _g(opp_rd / GLICKO2_SCALE)
        e_j = 1.0 / (1.0 + math.exp(-g_j * (mu - mu_j)))
        inv_v += g_j * g_j * e_j * (1.0 - e_j)
        gain += g_j * (score - e_j)
    v = 1.0 / inv_v
    delta = v * gain

    # Step 5: new volatility by the Illinois (regula falsi) iteration on f(x), x = ln sigma'^2.
    a = math.log(sigma * sigma)
    phi2 = phi * phi

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (delta * delta - phi2 - v - ex) / (2.0 * (phi2 + v + ex) ** 2) - (x - a) / (tau * tau)

    big_a = a
    if delta * delta > phi2 + v:
        big_b = math.log(delta * delta - phi2 - v)
    else:
        k = 1
        while f(a - k * tau) < 0:
            k += 1
        big_b = a - k * tau
    f_a, f_b = f(big_a), f(big_b)
    while abs(big_b - big_a) > _EPSILON:
        big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(big_c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a /= 2.0
        big_b, f_b = big_c, f_c
    sigma_new = math.exp(big_a / 2.0)

    # Steps 6-8: pre-period RD, new RD and rating, back on the Glicko scale.
    phi_star = math.sqrt(phi2 + sigma_new * sigma_new)
    phi_new = 1.0 / math.sqrt(1.0 / (phi_star * phi_star) + inv_v)
    mu_new = mu + phi_new * phi_new * gain
    return Glicko2(GLICKO2_SCALE * mu_new + 1500.0, GLICKO2_SCALE * phi_new, sigma_new)


def glicko2_sequential(
    games: Sequence[tuple[float, float]],
    start: Glicko2 = Glicko2(1500.0, 500.0, 0.06),
    tau: float = 0.5,
) -> Glicko2:
    """The paper's protocol: one Glicko-2 period per game, in order, against RD-0 opponents.

    Anchors (Stockfish levels) are treated as exactly known, hence RD 0. Because each game
    is its own period, the result depends on game order (recent games weigh more), which
    is why :func:`elo_mle` is offered alongside it.
    """
    player = start
    for opponent, score in games:
        player = glicko2_update(player, [(opponent, 0.0, score)], tau=tau)
    return player


# --------------------------------------------------------------------------- Elo MLE


@dataclass(frozen=True)
class EloEstimate:
    """Maximum-likelihood Elo with a likelihood-ratio interval.

    ``at_bound`` is true when the maximum lies on the search bound (e.g. all wins or all
    losses, where no finite MLE exists), so ``rating`` is only a limit, not an estimate.
    """

    rating: float
    ci_low: float
    ci_high: float
    at_bound: bool


def chi2_1_quantile(level: float) -> float:
    """Quantile of the chi-square distribution with 1 dof, without scipy.

    chi2_1 is the square of a standard normal, so the quantile is z^2 with
    Phi(z) = (1 + level) / 2; z is found by bisection on ``math.erf``.
    """
    if not (0.0 < level < 1.0):
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    lo, hi = 0.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.erf(mid / math.sqrt(2.0)) < level:  # P(|Z| < mid)
            lo = mid
        else:
            hi = mid
    z = 0.5 * (lo + hi)
    return z * z


def _arrays(games: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    if len(games) == 0:
        raise ValueError("no games to rate")
    arr = np.asarray(games, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("games must be a sequence of (opponent_rating, score) pairs")
    opp, score = arr[:, 0], arr[:, 1]
    if not np.all(np.isfinite(opp)):
        raise ValueError("opponent ratings must be finite")
    if not np.all((score >= 0.0) & (score <= 1.0)):  # also rejects NaN
        raise ValueError("scores must lie in [0, 1]")
    return opp, score


def elo_log_likelihood(rating: float, games: Sequence[tuple[float, float]]) -> float:
    """Log-likelihood of ``rating``; a draw counts as half a win and half a loss.

    Written with ``logaddexp`` so that lopsided ratings do not underflow to log(0).
    """
    opp, score = _arrays(games)
    d = (rating - opp) * math.log(10.0) / 400.0
    return float(-np.sum(score * np.logaddexp(0.0, -d) + (1.0 - score) * np.logaddexp(0.0, d)))


def bisect_root(fn: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of a function that is >0 at ``lo`` and <=0 at ``hi`` (monotone in between)."""
    for _ in range(200):
        if hi - lo < 1e-9:
            break
        mid = 0.5 * (lo + hi)
        if fn(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def elo_mle(
    games: Sequence[tuple[float, float]],
    *,
    bounds: tuple[float, float] | None = None,
    level: float = 0.95,
) -> EloEstimate:
    """Order-independent maximum-likelihood Elo against fixed opponents.

    The score derivative of the log-likelihood, ``ln10/400 * sum(score - E)``, is strictly
    decreasing in the rating, so the MLE is found by bisection to far below 0.01 Elo. The
    interval is ``{R : 2 (l(R_hat) - l(R)) <= chi2_1(level)}`` (likelihood ratio), which
    stays sensible for lopsided scores where a Wald interval does not. Default search
    bounds are ``min(opp) - 1200`` to ``max(opp) + 1200``. With all wins or all losses the
    likelihood is monotone: the bound is returned with ``at_bound=True`` and the interval
    reaches that bound.
    """
    opp, score = _arrays(games)
    lo, hi = bounds if bounds is not None else (float(opp.min()) - 1200.0, float(opp.max()) + 1200.0)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with low < high, got {(lo, hi)!r}")
    q = chi2_1_quantile(level)
    total = float(score.sum())

    def gradient(r: float) -> float:  # proportional to d l / d R
        return total - float(np.sum(1.0 / (1.0 + 10.0 ** ((opp - r) / 400.0))))

    if gradient(hi) >= 0:  # likelihood still rising at the upper bound (e.g. all wins)
        rating, at_bound = hi, True
    elif gradient(lo) <= 0:  # likelihood already falling at the lower bound (all losses)
        rating, at_bound = lo, True
    else:
        rating, at_bound = bisect_root(gradient, lo, hi), False

    l_max = elo_log_likelihood(rating, games)

    def inside(r: float) -> float:  # > 0 inside the interval, <= 0 outside
        return q - 2.0 * (l_max - elo_log_likelihood(r, games))

    ci_low = lo if inside(lo) > 0 else bisect_root(lambda r: -inside(r), lo, rating)
    ci_high = hi if inside(hi) > 0 else bisect_root(inside, rating, hi)
    return EloEstimate(rating=rating, ci_low=ci_low, ci_high=ci_high, at_bound=at_bound)

"""Tests for :mod:`transcendence.rating.systems`: Glicko-2 against Glickman's worked example, and the
order-independent Elo MLE against closed forms and its own likelihood."""

from __future__ import annotations

import math
import random

import pytest

from transcendence.rating.systems import (
    GLICKO2_SCALE,
    EloEstimate,
    Glicko2,
    chi2_1_quantile,
    elo_log_likelihood,
    elo_mle,
    glicko2_sequential,
    glicko2_update,
)

# Mixed block against four anchors: 5.5 / 8 points, so the MLE is finite and interior.
BLOCK: list[tuple[float, float]] = [
    (1200.0, 1.0), (1200.0, 1.0), (1400.0, 1.0), (1400.0, 0.5),
    (1600.0, 1.0), (1600.0, 0.0), (1800.0, 0.0), (1800.0, 0.5),
]  # fmt: skip


def _gradient(rating: float, games: list[tuple[float, float]]) -> float:
    """d log L / d R written out independently of the module (score minus expectation)."""
    return math.log(10) / 400 * sum(s - 1 / (1 + 10 ** ((o - rating) / 400)) for o, s in games)


# --------------------------------------------------------------------------- Elo basics


def test_chi2_quantile_matches_tables() -> None:
    assert chi2_1_quantile(0.95) == pytest.approx(3.8415, abs=1e-4)
    assert chi2_1_quantile(0.99) == pytest.approx(6.6349, abs=1e-4)
    assert chi2_1_quantile(0.90) == pytest.approx(2.7055, abs=1e-4)
    with pytest.raises(ValueError):
        chi2_1_quantile(1.0)


# --------------------------------------------------------------------------- Glicko-2


def test_glicko2_matches_glickman_worked_example() -> None:
    player = Glicko2(1500.0, 200.0, 0.06)
    games = [(1400.0, 30.0, 1.0), (1550.0, 100.0, 0.0), (1700.0, 300.0, 0.0)]
    new = glicko2_update(player, games, tau=0.5)
    # Glickman (2013) reports 1464.06 / 151.52 / 0.05999 from rounded intermediate values.
    assert new.rating == pytest.approx(1464.06, abs=0.02)
    assert new.rd == pytest.approx(151.52, abs=0.01)
    assert new.volatility == pytest.approx(0.059996, abs=1e-6)  # reported as 0.05999
    assert new.volatility < player.volatility  # results close to expectation calm it down


def test_glicko2_volatility_is_the_root_of_glickmans_f_after_an_upset() -> None:
    player = Glicko2(1500.0, 50.0, 0.06)
    games = [(2100.0, 30.0, 1.0)] * 3
    tau = 0.5
    new = glicko2_update(player, games, tau=tau)
    # Independent check: solve step 5's f(x) = 0 by plain bisection.
    mu, phi = 0.0, 50.0 / GLICKO2_SCALE
    mu_j = 600.0 / GLICKO2_SCALE
    g = 1 / math.sqrt(1 + 3 * (30.0 / GLICKO2_SCALE) ** 2 / math.pi**2)
    e = 1 / (1 + math.exp(-g * (mu - mu_j)))
    v = 1 / (3 * g * g * e * (1 - e))
    delta = v * 3 * g * (1 - e)
    a = math.log(0.06**2)

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (delta**2 - phi**2 - v - ex) / (2 * (phi**2 + v + ex) ** 2) - (x - a) / tau**2

    lo, hi = a - 10, a + 10
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    assert new.volatility == pytest.approx(math.exp(lo / 2), rel=1e-5)
    assert new.volatility > player.volatility  # a surprise raises volatility
    assert new.rating > player.rating + 20.0


def test_glicko2_empty_period_only_inflates_rd() -> None:
    player = Glicko2(1700.0, 80.0, 0.06)
    new = glicko2_update(player, [])
    expected_rd = GLICKO2_SCALE * math.hypot(80.0 / GLICKO2_SCALE, 0.06)
    assert new.rating == player.rating
    assert new.volatility == player.volatility
    assert new.rd == pytest.approx(expected_rd, rel=1e-12)
    assert new.rd > player.rd


def test_glicko2_sequential_is_one_period_per_game_with_fixed_anchors() -> None:
    games = [(1400.0, 1.0), (1600.0, 0.5), (1800.0, 0.0), (1300.0, 1.0)]
    player = Glicko2(1500.0, 500.0, 0.06)
    for opp, score in games:
        player = glicko2_update(player, [(opp, 0.0, score)])
    assert glicko2_sequential(games) == player
    # ... and not the same as rating all games in a single period.
    single = glicko2_update(Glicko2(1500.0, 500.0, 0.06), [(o, 0.0, s) for o, s in games])
    assert abs(single.rating - player.rating) > 1.0


def test_sequential_glicko2_depends_on_order_but_mle_does_not() -> None:
    wins_first = [(1500.0, 1.0)] * 5 + [(1500.0, 0.0)] * 5
    losses_first = list(reversed(wins_first))
    a, b = glicko2_sequential(wins_first), glicko2_sequential(losses_first)
    # Later games weigh more: ending on losses leaves the rating lower.
    assert b.rating - a.rating > 50.0

    shuffled = BLOCK * 3
    random.Random(0).shuffle(shuffled)
    assert glicko2_sequential(shuffled).rating != pytest.approx(glicko2_sequential(BLOCK * 3).rating, abs=1.0)

    assert elo_mle(wins_first) == elo_mle(losses_first)
    m1, m2 = elo_mle(BLOCK * 3), elo_mle(shuffled)
    assert m1.rating == pytest.approx(m2.rating, abs=1e-6)
    assert m1.ci_low == pytest.approx(m2.ci_low, abs=1e-6)
    assert m1.ci_high == pytest.approx(m2.ci_high, abs=1e-6)


# --------------------------------------------------------------------------- Elo MLE


@pytest.mark.parametrize(
    "games",
    [
        [(1800.0, 1.0), (1800.0, 0.0)],
        [(1800.0, 0.5)] * 7,
        [(1800.0, 1.0)] * 3 + [(1800.0, 0.0)] * 3 + [(1800.0, 0.5)] * 4,
    ],
)
def test_mle_of_half_score_against_one_opponent_is_its_rating(games: list[tuple[float, float]]) -> None:
    est = elo_mle(games)
    assert est.rating == pytest.approx(1800.0, abs=0.01)
    assert not est.at_bound


def test_mle_matches_closed_form_for_one_opponent() -> None:
    # Against one opponent the MLE solves E = p, i.e. R = o + 400 log10(p / (1 - p)).
    games = [(1500.0, 1.0)] * 3 + [(1500.0, 0.0)]
    assert elo_mle(games).rating == pytest.approx(1500.0 + 400 * math.log10(3), abs=0.01)


def test_mle_gradient_vanishes_at_estimate() -> None:
    games = BLOCK * 2
    est = elo_mle(games)
    assert abs(_gradient(est.rating, games)) < 1e-8
    # Precise to 0.01 Elo: the likelihood falls off on both sides of the estimate.
    assert _gradient(est.rating - 0.01, games) > 0 > _gradient(est.rating + 0.01, games)
    assert elo_log_likelihood(est.rating, games) > elo_log_likelihood(est.rating + 0.01, games)
    assert elo_log_likelihood(est.rating, games) > elo_log_likelihood(est.rating - 0.01, games)


def test_interval_is_likelihood_ratio_and_contains_estimate() -> None:
    games = BLOCK * 2
    est = elo_mle(games)
    assert est.ci_low < est.rating < est.ci_high
    l_max = elo_log_likelihood(est.rating, games)
    for end in (est.ci_low, est.ci_high):
        assert 2 * (l_max - elo_log_likelihood(end, games)) == pytest.approx(3.8415, abs=1e-3)
    wider = elo_mle(games, level=0.99)
    assert wider.ci_low < est.ci_low and wider.ci_high > est.ci_high
    assert wider.rating == pytest.approx(est.rating, abs=1e-9)


def test_interval_narrows_about_twofold_with_four_times_the_games() -> None:
    small, large = elo_mle(BLOCK * 5), elo_mle(BLOCK * 20)
    assert small.rating == pytest.approx(large.rating, abs=0.01)  # same score profile
    ratio = (small.ci_high - small.ci_low) / (large.ci_high - large.ci_low)
    assert 1.8 < ratio < 2.2


def test_all_wins_and_all_losses_return_the_bound() -> None:
    wins = elo_mle([(1500.0, 1.0)] * 4 + [(2000.0, 1.0)])
    assert wins.at_bound and wins.rating == 2000.0 + 1200.0
    assert wins.ci_high == wins.rating and wins.ci_low < 2000.0 + 1200.0

    losses = elo_mle([(1500.0, 0.0)] * 4 + [(2000.0, 0.0)])
    assert losses.at_bound and losses.rating == 1500.0 - 1200.0
    assert losses.ci_low == losses.rating and losses.ci_high > 1500.0 - 1200.0

    custom = elo_mle([(1500.0, 1.0)] * 3, bounds=(0.0, 2500.0))
    assert custom == EloEstimate(2500.0, custom.ci_low, 2500.0, True)
    assert 1500.0 < custom.ci_low < 2500.0


def test_finite_mle_outside_narrow_bounds_is_flagged() -> None:
    est = elo_mle([(1500.0, 1.0)] * 3 + [(1500.0, 0.0)], bounds=(1000.0, 1600.0))
    assert est.at_bound and est.rating == 1600.0


def test_wins_and_losses_mirror_around_the_opponents() -> None:
    center = 1600.0
    mirrored = [(2 * center - o, 1.0 - s) for o, s in BLOCK]
    a, b = elo_mle(BLOCK * 3), elo_mle(mirrored * 3)
    assert a.rating - center == pytest.approx(center - b.rating, abs=0.01)
    assert a.ci_high - center == pytest.approx(center - b.ci_low, abs=0.01)
    assert a.ci_low - center == pytest.approx(center - b.ci_high, abs=0.01)

    up = elo_mle([(1500.0, 1.0)] * 7 + [(1500.0, 0.0)] * 2)
    down = elo_mle([(1500.0, 0.0)] * 7 + [(1500.0, 1.0)] * 2)
    assert up.rating - 1500.0 == pytest.approx(1500.0 - down.rating, abs=0.01)
    assert up.rating > 1500.0


@pytest.mark.parametrize(
    "games", [[], [(1500.0, 1.5)], [(1500.0, -0.1)], [(1500.0, math.nan)], [(math.nan, 1.0)]]
)
def test_mle_rejects_bad_input(games: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError):
        elo_mle(games)


def test_glicko2_rejects_bad_scores() -> None:
    with pytest.raises(ValueError):
        glicko2_update(Glicko2(1500.0, 200.0, 0.06), [(1500.0, 0.0, 2.0)])

"""The joint ML fit recovers known ratings from simulated games."""

from __future__ import annotations

import math
import random

import pytest

from transcendence.rating.ladder import fit_ratings


def simulate(true: dict[str, float], n: int, seed: int = 0):
    rng = random.Random(seed)
    names = list(true)
    games = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
        games.append((a, b, 1.0 if rng.random() < p else 0.0))
    return games


def test_recovers_the_ladder_within_its_intervals():
    true = {"a": 0.0, "b": 200.0, "c": 500.0, "d": 900.0}
    fit = {p.name: p for p in fit_ratings(simulate(true, 20000), anchor="a", anchor_rating=0.0)}
    assert fit["a"].rating == 0.0 and fit["a"].ci_low == fit["a"].ci_high == 0.0
    for name in "bcd":
        assert abs(fit[name].rating - true[name]) < 40, (name, fit[name])
        assert fit[name].ci_low < fit[name].rating < fit[name].ci_high
    assert fit["b"].rating < fit["c"].rating < fit["d"].rating


def test_interval_narrows_with_more_games():
    true = {"a": 0.0, "b": 300.0}
    small = fit_ratings(simulate(true, 500), "a", 0.0)[1]
    large = fit_ratings(simulate(true, 8000), "a", 0.0)[1]
    assert (large.ci_high - large.ci_low) < 0.4 * (small.ci_high - small.ci_low)


def test_anchor_shifts_everything():
    games = simulate({"a": 0.0, "b": 300.0, "c": 600.0}, 3000)
    base = fit_ratings(games, "a", 0.0)
    moved = fit_ratings(games, "a", 1000.0)
    assert [round(m.rating - b.rating, 6) for m, b in zip(moved, base)] == [1000.0] * 3


def test_unknown_anchor_is_an_error():
    with pytest.raises(ValueError, match="anchor player 'z'"):
        fit_ratings([("a", "b", 1.0)], "z", 0.0)


def test_two_player_fit_matches_the_closed_form():
    games = [("a", "b", 1.0)] * 30 + [("a", "b", 0.0)] * 10   # a scores 75%
    b = fit_ratings(games, "a", 0.0)[1]
    assert b.rating == pytest.approx(-400 * math.log10(3), abs=1e-6)

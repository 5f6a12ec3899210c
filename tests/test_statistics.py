"""The referee's statistics: the difference from the best player from one likelihood, pairs and
their GSPRT, and Glicko-2's dependence on order, each against a plain reference."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from transcendence.config_check import cross_key_problems
from transcendence.rating.calibrated import Calibration, CalibrationFileError, read_calibration
from transcendence.rating.difference import rating_difference
from transcendence.rating.ladder import PlayerRating
from transcendence.rating.pairs import PAIR_SCORES, SequentialTest, elo_to_score, mle_with_mean, pair_scores, pentanomial
from transcendence.rating.systems import Glicko2, chi2_1_quantile, glicko2_sequential
from transcendence.rating.table import RATINGS_COLUMNS, glicko2_shuffled, rate_rows

K = math.log(10) / 400


def _games(rng: random.Random, a: str, b: str, diff: float, n: int) -> list[tuple[str, str, float]]:
    """``n`` games of ``a`` against ``b``, ``a`` ``diff`` Elo stronger, a third of them drawn."""
    p = 1 / (1 + 10 ** (-diff / 400))
    out = []
    for _ in range(n):
        u = rng.random()
        out.append((a, b, 0.5 if u < 0.33 else 1.0 if u < 0.33 + 0.67 * p else 0.0))
    return out


def _log_likelihood(games, ratings) -> np.ndarray:
    """Bradley-Terry log-likelihood, draws half a win, over arrays of ratings (broadcast)."""
    total = 0.0
    for a, b, s in games:
        x = K * (ratings[a] - ratings[b])
        total = total + s * -np.logaddexp(0, -x) + (1 - s) * -np.logaddexp(0, x)
    return total


def _brute_force_profile(calibration, model, d_grid):
    """max over r_B, r_C of the joint log-likelihood at each d, by a grid then a finer grid."""
    out = []
    for d in d_grid:
        centre_b, centre_c, span = 0.0, 0.0, 800.0
        for _ in range(4):  # each round a 41 x 41 grid, a fifth as wide, around the last best point
            rb, rc = np.meshgrid(np.linspace(centre_b - span, centre_b + span, 41),
                                 np.linspace(centre_c - span, centre_c + span, 41), indexing="ij")
            ratings = {"A": 0.0, "B": rb, "C": rc, "M": rb + d}
            ll = _log_likelihood(calibration, ratings) + _log_likelihood([("M", o, s) for o, s in model], ratings)
            i, j = np.unravel_index(np.argmax(ll), ll.shape)
            centre_b, centre_c, span = rb[i, j], rc[i, j], span / 5
        out.append(float(ll[i, j]))
    return np.array(out)


def test_the_difference_interval_is_the_brute_force_profile_likelihoods():
    rng = random.Random(7)
    calibration = (_games(rng, "B", "A", 150, 40) + _games(rng, "C", "A", 300, 40) + _games(rng, "C", "B", 150, 40))
    model = [(b, s) for _, b, s in _games(rng, "M", "A", 250, 30) + _games(rng, "M", "B", 100, 30)
             + _games(rng, "M", "C", -50, 30)]
    diff = rating_difference(calibration, model, best="B", anchor="A")
    grid = np.arange(-200.0, 400.0, 2.0)
    profile = _brute_force_profile(calibration, model, grid)
    assert diff.estimate == pytest.approx(grid[np.argmax(profile)], abs=2.0)
    inside = grid[2 * (profile.max() - profile) <= chi2_1_quantile(0.95)]
    assert diff.ci_low == pytest.approx(inside.min(), abs=2.5)
    assert diff.ci_high == pytest.approx(inside.max(), abs=2.5)
    assert not diff.at_bound and diff.ci_low < diff.estimate < diff.ci_high


def test_the_joint_interval_is_wider_than_the_one_that_takes_the_best_player_as_exact():
    rng = random.Random(3)
    calibration = _games(rng, "B", "A", 100, 30) + _games(rng, "C", "A", 300, 30) + _games(rng, "C", "B", 200, 30)
    model = [(b, s) for _, b, s in _games(rng, "M", "A", 200, 200) + _games(rng, "M", "C", 0, 200)]
    joint = rating_difference(calibration, model, best="B", anchor="A")
    # With the calibration's ratings held fixed, the model's interval is narrower; fitting the
    # best player's rating in the same likelihood adds its error.
    from transcendence.rating.ladder import fit_ratings
    from transcendence.rating.systems import elo_mle
    fixed = {r.name: r.rating for r in fit_ratings(calibration, "A", 0.0)}
    alone = elo_mle([(fixed[o], s) for o, s in model])
    assert joint.ci_high - joint.ci_low > (alone.ci_high - alone.ci_low) * 1.2


def test_a_model_that_won_every_game_has_its_difference_at_the_bound():
    rng = random.Random(1)
    calibration = _games(rng, "B", "A", 100, 30)
    diff = rating_difference(calibration, [("A", 1.0)] * 10 + [("B", 1.0)] * 10, best="B", anchor="A")
    assert diff.at_bound and diff.estimate == diff.ci_high and diff.ci_low > 0
    with pytest.raises(ValueError, match="best player 'Z'"):
        rating_difference(calibration, [("A", 1.0)], best="Z", anchor="A")


def test_pairs_and_their_pentanomial_counts():
    scores = {0: 1.0, 1: 0.5, 2: 0.0, 3: 0.0, 4: 0.5, 5: 1.0, 6: 1.0, 7: 1.0}
    pairs = pair_scores(scores)
    assert pairs == [0.75, 0.0, 0.75, 1.0]
    assert pentanomial(pairs) == [1, 0, 0, 2, 1]
    with pytest.raises(ValueError, match="pair 1 lacks game 3"):
        pair_scores({0: 1.0, 1: 0.0, 2: 0.5})
    with pytest.raises(ValueError, match="multiple of 1/4"):
        pentanomial([0.3])


def test_the_mean_constrained_distribution_is_the_likelihoods_maximum():
    q = np.array([0.05, 0.2, 0.45, 0.2, 0.1])
    for mean in (0.4, 0.5, elo_to_score(50)):
        p = mle_with_mean(q, mean)
        assert p.sum() == pytest.approx(1) and float(p @ PAIR_SCORES) == pytest.approx(mean, abs=1e-9)
        # Every feasible direction (sum 0, mean 0) lowers sum q log p: the constrained maximum.
        basis = np.linalg.svd(np.vstack([np.ones(5), PAIR_SCORES]))[2][2:]
        rng = np.random.default_rng(0)
        best = float(q @ np.log(p))
        for _ in range(200):
            other = p + 0.01 * (rng.normal(size=3) @ basis)
            if (other > 0).all():
                assert float(q @ np.log(other)) <= best + 1e-12


def test_the_gsprt_accepts_the_hypothesis_the_pairs_support():
    test = SequentialTest(elo0=0, elo1=50, alpha=0.05, beta=0.05)
    assert test.upper == pytest.approx(math.log(19)) and test.lower == pytest.approx(-math.log(19))
    strong = [2, 10, 40, 30, 18]  # pairs well above one half
    level = [10, 25, 30, 25, 10]  # exactly one half on average
    assert test.llr(strong) > test.upper and test.decision(test.llr(strong)) == "H1"
    more_level = [4 * n for n in level]
    assert test.llr(more_level) < test.lower and test.decision(test.llr(more_level)) == "H0"
    with pytest.raises(ValueError, match="five"):
        test.llr(level * 2)
    assert test.decision(test.llr([0, 1, 2, 1, 0])) == "continue"
    # More of the same evidence moves the ratio further: the LLR is the counts times a constant.
    assert test.llr([4, 20, 80, 60, 36]) == pytest.approx(2 * test.llr(strong), rel=1e-3)


def test_glicko2s_random_order_range_contains_the_median_of_other_shuffles():
    rng = random.Random(5)
    games = [(opp, 1.0 if rng.random() < p else 0.5 if rng.random() < 0.5 else 0.0)
             for opp, p in [(200.0, 0.7)] * 80 + [(400.0, 0.5)] * 80 + [(800.0, 0.2)] * 80]
    start = Glicko2(1500, 500, 0.06)
    median, low, high = glicko2_shuffled(games, start=start, tau=0.5, shuffles=200, seed=1)
    others = []
    for seed in range(100):
        order = list(games)
        random.Random(1000 + seed).shuffle(order)
        others.append(glicko2_sequential(order, start=start, tau=0.5).rating)
    assert low < float(np.median(others)) < high and low < median < high
    # The order matters: the weakest opponents last give another rating than the strongest last.
    assert abs(glicko2_sequential(games[::-1], start=start, tau=0.5).rating
               - glicko2_sequential(games, start=start, tau=0.5).rating) > 30


def _row(game: int, opponent: str, rating: float, score: float) -> dict[str, str]:
    color = "white" if game % 2 == 0 else "black"
    result = {1.0: "1-0", 0.5: "1/2-1/2", 0.0: "0-1"}[score] if color == "white" else \
        {1.0: "0-1", 0.5: "1/2-1/2", 0.0: "1-0"}[score]
    return {"cap": "400", "temperature": "0.001", "game": str(game), "opponent": opponent, "model_score": str(score),
            "opponent_rating": str(rating), "forfeit": "0", "illegal_tries": "0", "mode": "legal_moves",
            "engine": "Stockfish 15.1", "result": result, "model_color": color}


def test_the_verdict_comes_from_the_joint_difference_where_the_best_player_was_calibrated():
    rng = random.Random(11)
    calibration_games = (_games(rng, "B", "A", 150, 20) + _games(rng, "C", "A", 400, 20)
                         + _games(rng, "C", "B", 250, 20))
    ratings = {n: PlayerRating(n, r, r - 60, r + 60, 40) for n, r in (("A", 0.0), ("B", 150.0), ("C", 400.0))}
    calibration = Calibration("A", ratings, calibration_games)
    rows = [_row(g, "B", 150.0, s) for g, (_, _, s) in enumerate(_games(rng, "M", "B", 60, 80))]
    rows += [_row(g, "C", 400.0, s) for g, (_, _, s) in enumerate(_games(rng, "M", "C", -190, 80))]
    start = Glicko2(1500, 500, 0.06)
    joint, = rate_rows(rows, {400: 150.0}, glicko_start=start, tau=0.5, opponent_ratings={"B": 150.0, "C": 400.0},
                       best_player_by_cap={400: "B"}, calibration=calibration, shuffles=20)
    point, = rate_rows(rows, {400: 150.0}, glicko_start=start, tau=0.5, opponent_ratings={"B": 150.0, "C": 400.0},
                       best_player_by_cap={400: "B"}, shuffles=20)
    assert set(joint) == set(RATINGS_COLUMNS)
    assert joint["minus_best_method"] == "joint" and point["minus_best_method"] == "point"
    assert point["minus_best_ci_low"] == pytest.approx(point["ci_low"] - 150.0, abs=0.11)
    # The calibration's 20 games a pairing make the joint interval the wider one.
    assert joint["minus_best_ci_high"] - joint["minus_best_ci_low"] > point["minus_best_ci_high"] - point["minus_best_ci_low"]
    for row in (joint, point):
        low, high = row["minus_best_ci_low"], row["minus_best_ci_high"]
        assert row["verdict"] == ("transcends" if low > 0 else "below" if high < 0 else "inconclusive")
    assert joint["best_ci_low"] == 90.0 and joint["best_ci_high"] == 210.0
    assert joint["h2h_pairs"] == 40 and sum(map(int, joint["h2h_pentanomial"].split("/"))) == 40
    assert joint["h2h_pair_score"] == joint["h2h_score"]  # the same games, counted in pairs
    assert joint["gsprt_decision"] in ("H0", "H1", "continue")
    assert joint["glicko2_shuffled_low"] <= joint["glicko2_shuffled_median"] <= joint["glicko2_shuffled_high"]


def test_without_a_best_player_the_difference_and_verdict_are_unknown():
    rows = [_row(g, "B", 150.0, 0.5) for g in range(10)]
    row, = rate_rows(rows, {}, glicko_start=Glicko2(1500, 500, 0.06), tau=0.5, shuffles=5)
    assert row["minus_best"] == "" and row["verdict"] == "unknown" and row["h2h_pairs"] == 0


def test_read_calibration_names_a_game_without_a_result(tmp_path):
    csv = tmp_path / "o.csv"
    csv.write_text("name,skill_level,eps,limit,configured_rating,rating,ci_low,ci_high,games,anchor,engine\n"
                   "random,,1.0,depth=1,0.0,0.0,0.0,0.0,2,1,x\nb,,0.5,depth=1,1.0,50.0,10.0,90.0,2,0,x\n")
    pgn = tmp_path / "g.pgn"
    pgn.write_text('[White "random"]\n[Black "b"]\n[Result "0-1"]\n\n1. e4 0-1\n\n'
                   '[Round "2"]\n[White "b"]\n[Black "random"]\n[Result "*"]\n\n1. e4 *\n\n')
    with pytest.raises(CalibrationFileError, match=r"g.pgn: calibration game 2 has no result"):
        read_calibration(csv, pgn)
    pgn.write_text('[White "random"]\n[Black "b"]\n[Result "0-1"]\n\n1. e4 0-1\n\n')
    calibration = read_calibration(csv, pgn)
    assert calibration.anchor == "random" and calibration.games == [("random", "b", 0.0)]
    assert calibration.ratings["b"].ci_low == 10.0


def test_the_sequential_tests_hypotheses_must_be_ordered():
    config = {"rating": {"sequential": {"elo0": 50, "elo1": 0, "alpha": 0.05, "beta": 0.05}}}
    assert any("elo1 (0) must be above elo0 (50)" in p for p in cross_key_problems(config))
    config["rating"]["sequential"] = {"elo0": 0, "elo1": 50, "alpha": 0.05, "beta": 0.05}
    assert not any("sequential" in p for p in cross_key_problems(config))

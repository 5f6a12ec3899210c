"""Opponent calibration: schedule, player set, identifiability, and a real round robin."""

from __future__ import annotations

import csv

import pytest

from transcendence.rating.calibration import (CalibrationError, calibrate, calibration_players, check_identified,
                                              read_calibrated, schedule)
from transcendence.players.config import synthetic_players
from transcendence.players.player import Player
from transcendence.rating.ladder import PlayerRating
from transcendence.rating.table import best_in_data, rate_rows, verdict
from transcendence.rating.systems import Glicko2
from transcendence.engine.uci import find_engine

from .helpers import random_mover


def eps_player(name: str, eps: float, rating: float = 0.0) -> Player:
    return Player(name=name, rating=rating, limit={"depth": 1}, eps=eps)


def test_schedule_plays_every_pair_with_alternating_colours():
    players = [eps_player(n, 0.5) for n in "abc"]
    games = schedule(players, 4)
    assert len(games) == 3 * 4
    for pair in ({"a", "b"}, {"a", "c"}, {"b", "c"}):
        mine = [g for g in games if {g[1], g[2]} == pair]
        whites = [g[1] for g in mine]
        assert len(mine) == 4 and whites[0] != whites[1] and whites[0] == whites[2]


def test_the_anchor_may_be_one_of_the_opponents_but_names_are_unique():
    level1 = Player("sf1", 1552, {"time": 0.1}, skill_level=1)
    players = calibration_players([level1, Player("sf3", 1842, {"time": 0.1}, skill_level=3)], level1)
    assert [p.name for p in players] == ["sf1", "sf3"]
    with pytest.raises(CalibrationError, match="'sf3'"):
        calibration_players([Player("sf3", 1842, {"time": 0.1}, skill_level=3)], level1,
                            [Player("sf3", 1842, {"time": 0.1}, skill_level=4)])


def test_a_player_who_won_every_game_has_no_rating():
    anchor = random_mover()
    fine = [PlayerRating("random", 0, 0, 0, 10), PlayerRating("a", 300, 200, 400, 10)]
    check_identified(fine, anchor)
    with pytest.raises(CalibrationError, match="'a' has no finite rating"):
        check_identified([fine[0], PlayerRating("a", 40000, 30000, 50000, 10)], anchor)


def test_real_round_robin_orders_the_players_and_is_deterministic(tmp_path):
    engine = find_engine("stockfish")
    opponents = [eps_player("eps0.75", 0.75, 360)]
    extra = synthetic_players([{"name": "eps0.9", "eps": 0.9, "elo": 100}], {"depth": 1}, {"share": 0.0}, 3)
    paths = {}
    for run in ("one", "two"):
        out = tmp_path / run
        out.mkdir()
        ratings = calibrate(opponents, random_mover(), games_per_pair=24, seed=3, engine_path=engine,
                            max_fullmoves=60, pgn_out=out / "g.pgn", csv_out=out / "o.csv",
                            json_out=out / "o.json", extra=extra, workers=2 if run == "one" else 1)
        paths[run] = out
    by_name = {r.name: r for r in ratings}
    assert set(by_name) == {"random", "eps0.75", "eps0.9"}
    assert by_name["random"].rating == 0.0
    # Fewer random moves play better: eps0.75 sits above the random mover, with an interval.
    assert by_name["eps0.75"].rating > 0 and by_name["eps0.75"].ci_low < by_name["eps0.75"].rating
    assert by_name["eps0.75"].rating > by_name["eps0.9"].rating
    # Same seed, depth-limited engine: the same games whatever the number of workers.
    assert (paths["one"] / "g.pgn").read_text() == (paths["two"] / "g.pgn").read_text()
    rows = list(csv.DictReader(open(paths["one"] / "o.csv")))
    assert {r["engine"] for r in rows} == {rows[0]["engine"]} and rows[0]["engine"].startswith("Stockfish")
    assert read_calibrated(paths["one"] / "o.csv")["eps0.75"] == pytest.approx(by_name["eps0.75"].rating, abs=0.06)


def test_calibrated_ratings_replace_the_configured_ones():
    games = [{"cap": "400", "temperature": "1.0", "opponent": "x", "opponent_rating": "100",
              "model_score": s, "game": str(i), "forfeit": "0", "illegal_tries": "0", "mode": "legal_moves",
              "engine": "Stockfish 15.1"} for i, s in enumerate(["1.0", "0.0"] * 10)]
    start = Glicko2(1500, 500, 0.06)
    configured = rate_rows(games, {400: 300.0}, glicko_start=start, tau=0.5)[0]
    measured = rate_rows(games, {400: 300.0}, glicko_start=start, tau=0.5, opponent_ratings={"x": 500.0},
                         anchors="calibrated")[0]
    assert configured["rating"] == pytest.approx(100, abs=0.5)
    assert measured["rating"] == pytest.approx(500, abs=0.5) and measured["anchors"] == "calibrated"
    assert (configured["verdict"], measured["verdict"]) == ("below", "transcends")
    with pytest.raises(ValueError, match="'x' has no calibrated rating"):
        rate_rows(games, {}, glicko_start=start, tau=0.5, opponent_ratings={"y": 1.0})


def test_best_in_data_uses_measured_ratings_of_the_players_within_the_cap():
    stats = [{"best_rating_per_cap": {"400": 360, "800": 780}}]
    players = [{"name": "a", "elo": 200}, {"name": "b", "elo": 360}, {"name": "c", "elo": 780}]
    assert best_in_data(stats) == {400: 360.0, 800: 780.0}
    assert best_in_data(stats, players=players, measured={"a": 150, "b": 280, "c": 650}) == {400: 280, 800: 650}


@pytest.mark.parametrize("low,high,expected", [(10, 20, "transcends"), (-5, 5, "inconclusive"), (-20, -10, "below")])
def test_verdict(low, high, expected):
    assert verdict(low, high, 0.0) == expected

"""The direct transcendence test: the model's score against the best player in its data."""

from __future__ import annotations

from transcendence.rating.systems import Glicko2
from transcendence.rating.table import best_players, head_to_head, rate_rows

PLAYERS = [{"name": "eps0.875", "elo": 200}, {"name": "eps0.75", "elo": 360}, {"name": "eps0.5", "elo": 780}]


def test_best_player_is_the_strongest_within_the_cap_by_measured_rating():
    assert best_players(PLAYERS, [400, 800, 100]) == {400: "eps0.75", 800: "eps0.5"}
    # Measured ratings decide among the players a cap keeps, not the configured ones.
    assert best_players(PLAYERS, [400], {"eps0.875": 300.0, "eps0.75": 250.0}) == {400: "eps0.875"}


def test_head_to_head_interval_brackets_the_mean_and_narrows_with_games():
    mean, low, high = head_to_head([1.0] * 30 + [0.5] * 50 + [0.0] * 20, seed=1)
    assert mean == 0.55 and low < mean < high and high - low < 0.2
    _, low4, high4 = head_to_head([1.0] * 120 + [0.5] * 200 + [0.0] * 80, seed=1)
    assert high4 - low4 < (high - low) * 0.7
    assert head_to_head([1.0, 0.5, 0.0], seed=3) == head_to_head([1.0, 0.5, 0.0], seed=3)


def _game(i: int, opponent: str, score: float) -> dict[str, str]:
    result = {1.0: "1-0", 0.5: "1/2-1/2", 0.0: "0-1"}[score]
    return {"cap": "400", "temperature": "0.001", "game": str(i), "opponent": opponent, "model_score": str(score),
            "opponent_rating": "300", "forfeit": "0", "illegal_tries": "0", "mode": "legal_moves",
            "engine": "Stockfish 15.1", "result": result}


def test_rate_rows_report_the_head_to_head_verdict_against_the_named_player():
    games = [_game(i, "eps0.75", 1.0 if i % 4 else 0.5) for i in range(60)]
    games += [_game(100 + i, "eps0.875", 0.0) for i in range(60)]
    row = rate_rows(games, {400: 283.0}, glicko_start=Glicko2(1500, 350, 0.06), tau=0.5,
                    best_player_by_cap={400: "eps0.75"})[0]
    assert row["best_player"] == "eps0.75" and row["h2h_games"] == 60
    assert row["h2h_score"] == 0.875 and row["h2h_verdict"] == "transcends"
    losing = rate_rows([_game(i, "eps0.75", 0.0 if i % 3 else 0.5) for i in range(60)], {400: 283.0},
                       glicko_start=Glicko2(1500, 350, 0.06), tau=0.5, best_player_by_cap={400: "eps0.75"})[0]
    assert losing["h2h_verdict"] == "below"
    unnamed = rate_rows(games, {400: 283.0}, glicko_start=Glicko2(1500, 350, 0.06), tau=0.5)[0]
    assert unnamed["h2h_games"] == 0 and unnamed["h2h_verdict"] == ""

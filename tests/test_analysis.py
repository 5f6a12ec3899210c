"""Unit tests of the theory experiment and the diversity measure (issue 9)."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict

import chess
import chess.pgn
import numpy as np
import pytest

from transcendence.analysis.diversity import (
    count_positions,
    diversity,
    first_sans,
    key_fen,
    normalised_entropy,
    position_key,
)
from transcendence.analysis.theory import TheoryConfig, expected_accuracy, run_theory, softmax, train_softmax

TINY = TheoryConfig(dims=10, classes=4, experts=5, examples=3000, test_examples=3000,
                    sigmas=(0.0, 1.5), temperatures=(0.001, 1.0), steps=150, learning_rate=4.0)


# -- entropy ------------------------------------------------------------------------------

def test_normalised_entropy_of_known_distributions():
    assert normalised_entropy({"e4": 5, "d4": 5, "c4": 5}) == pytest.approx(1.0)
    assert normalised_entropy({"e4": 7}) == 0.0
    assert normalised_entropy([0, 9, 0]) == 0.0  # moves never played do not count
    p = 0.75
    expected = -(p * math.log(p) + (1 - p) * math.log(1 - p)) / math.log(2)  # 0.8113 bits/bit
    assert normalised_entropy([3, 1]) == pytest.approx(expected)
    assert normalised_entropy([90, 5, 5]) < normalised_entropy([40, 30, 30]) < 1.0


# -- theory -------------------------------------------------------------------------------

def test_expected_accuracy_is_the_mean_probability_of_the_truth():
    logits = np.array([[2.0, 0.0], [0.0, 1.0]])
    truth = np.array([0, 0])
    p = softmax(logits)
    assert expected_accuracy(logits, truth, 1.0) == pytest.approx((p[0, 0] + p[1, 0]) / 2)
    assert expected_accuracy(logits, truth, 1e-3) == pytest.approx(0.5)  # the argmax: right once


def test_softmax_learner_recovers_a_linear_rule():
    rng = np.random.default_rng(0)
    w_true = rng.standard_normal((3, 8))
    x = rng.standard_normal((2000, 8))
    labels = (x @ w_true.T).argmax(axis=1)
    w = train_softmax(x, labels, 3, steps=200, learning_rate=4.0)
    x_test = rng.standard_normal((2000, 8))
    truth = (x_test @ w_true.T).argmax(axis=1)
    assert expected_accuracy(x_test @ w.T, truth, 1e-3) > 0.9


def test_theory_transcends_with_independent_noise_only():
    rows = run_theory(TINY, seed=3)
    at = {(r["noise"], r["sigma"], r["temperature"]): r for r in rows}
    noisy_low, noisy_t1 = at[("independent", 1.5, 0.001)], at[("independent", 1.5, 1.0)]
    # Majority vote of independent mistakes: low temperature beats the best expert ...
    assert noisy_low["learner_accuracy"] > noisy_low["best_expert"] + 0.05
    assert noisy_low["transcends"] == 1
    # ... temperature 1 only reproduces the experts on average ...
    assert abs(noisy_t1["learner_accuracy"] - noisy_t1["mean_expert"]) < 0.05
    assert noisy_t1["transcends"] == 0
    # ... and with one shared noise there is nothing to vote away.
    shared_low = at[("shared", 1.5, 0.001)]
    assert shared_low["learner_accuracy"] < shared_low["best_expert"] + 0.03
    assert shared_low["transcends"] == 0
    # Noise-free experts are perfect and cannot be beaten.
    assert at[("independent", 0.0, 0.001)]["best_expert"] == 1.0
    assert all(r["transcends"] == 0 for r in rows if r["sigma"] == 0.0)
    assert len(rows) == 2 * len(TINY.sigmas) * len(TINY.temperatures)


def test_theory_is_deterministic_given_the_seed():
    small = TheoryConfig(dims=5, classes=3, experts=3, examples=300, test_examples=300,
                         sigmas=(1.0,), temperatures=(0.1, 1.0), steps=20, learning_rate=2.0)
    assert run_theory(small, seed=11) == run_theory(small, seed=11)
    assert run_theory(small, seed=11) != run_theory(small, seed=12)


# -- diversity ----------------------------------------------------------------------------

def _random_games(n: int, plies: int, seed: int) -> list[list[str]]:
    """Random legal games from a few common first moves, so positions repeat and transpose."""
    rng = random.Random(seed)
    games = []
    for _ in range(n):
        board, sans = chess.Board(), []
        for ply in range(plies):
            moves = sorted(board.legal_moves, key=lambda m: m.uci())
            if not moves:
                break
            # Mostly quiet knight and pawn moves early, so transpositions happen.
            pool = moves[:4] if ply < 6 else moves
            move = rng.choice(pool)
            sans.append(board.san(move))
            board.push(move)
        games.append(sans)
    return games


def _write_pgn(path, games: list[list[str]]) -> None:
    with open(path, "w") as fh:
        for i, sans in enumerate(games):
            game = chess.pgn.Game()
            game.headers["Result"] = "1/2-1/2"
            game.headers["Site"] = str(i)
            node = game
            for san in sans:
                node = node.add_variation(node.board().parse_san(san))
            print(game, file=fh, end="\n\n")


def test_position_key_round_trips_to_the_fen():
    for sans in _random_games(30, 40, seed=1) + [["e4", "d5", "e5", "f5"], ["e4", "e5", "Ke2", "Ke7"]]:
        board = chess.Board()
        for san in sans:
            board.push_san(san)
            assert key_fen(position_key(board)) == board.fen()


def test_first_sans_reads_lichess_movetext():
    movetext = "1. e4 { [%clk 0:03:00] } 1... e5 2. Nf3?! Nc6 3. Bb5 1-0"
    assert first_sans(movetext, 3) == ["e4", "e5", "Nf3"]
    assert first_sans(movetext, 10) == ["e4", "e5", "Nf3", "Nc6", "Bb5"]
    assert first_sans("1-0", 5) == []


def test_counts_match_a_python_chess_replay_and_merge_transpositions(tmp_path):
    games = _random_games(100, 20, seed=2) + [["Nf3", "Nf6", "Nc3", "e6"], ["Nc3", "Nf6", "Nf3", "d6"]]
    path = tmp_path / "games.pgn"
    _write_pgn(path, games)
    plies = 16
    counts = count_positions([path], plies=plies, max_games=None)
    reference: dict[str, Counter[str]] = defaultdict(Counter)  # the released code's way
    with open(path) as fh:
        while (game := chess.pgn.read_game(fh)) is not None:
            board = game.board()
            for i, move in enumerate(game.mainline_moves()):
                if i > plies:
                    break
                reference[board.fen()][board.san(move)] += 1
                board.push(move)
    mine = {key_fen(k): v for k, v in counts.moves.items()}
    assert mine == reference
    assert counts.games == len(games)
    merged = chess.Board()
    for san in ["Nf3", "Nf6", "Nc3"]:
        merged.push_san(san)
    assert {"e6", "d6"} <= set(mine[merged.fen()])  # both move orders land here
    assert count_positions([path], plies=plies, max_games=10).games == 10


def test_diversity_writes_entropies_in_range(tmp_path):
    path = tmp_path / "cap.pgn"
    _write_pgn(path, _random_games(100, 12, seed=4))
    out = diversity({500: [path]}, plies=16, min_count=10, max_games=None, reference={500: 0.7},
                    json_out=tmp_path / "d.json", csv_out=tmp_path / "d.csv", figures=[tmp_path / "d.png"])
    info = out["caps"]["500"]
    assert info["games"] == 100 and info["common_positions"] > 0
    assert 0 <= info["mean_entropy"] <= 1 and info["paper_mean_entropy"] == 0.7
    assert json.loads((tmp_path / "d.json").read_text()) == out
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert len(rows) == 1 + info["common_positions"]
    start = rows[1].split(",")
    assert start[1] == chess.STARTING_FEN and int(start[2]) == 100  # most visited first
    assert all(0 <= float(r.split(",")[-1]) <= 1 for r in rows[1:])
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_unreadable_game_names_the_file(tmp_path):
    path = tmp_path / "bad.pgn"
    path.write_text('[Result "1-0"]\n\n1. e4 e5 2. Ke3 1-0\n\n')
    with pytest.raises(ValueError, match="bad.pgn.*Ke3"):
        count_positions([path], plies=16, max_games=None)

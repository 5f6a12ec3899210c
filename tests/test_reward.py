"""The expected-reward stage (issue 16): its arithmetic, its held-out positions, its outputs."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import chess
import numpy as np
import pytest
import torch

from transcendence.data.board_positions import build_positions, load_positions, val_games
from transcendence.model.board_encoding import FEATURES, encode
from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.model.checkpoint import save_model
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.engine.move_values import MoveValues
from transcendence.families import family_named
from transcendence.analysis.reward import (model_reward, player_reward,
                                  reward_stats, run_expected_reward, sample_positions, verdict)
from transcendence.players.mistakes import MistakeRule, own_mistake
from transcendence.players.player import Player
from transcendence.pgn.text import format_pgn
from transcendence.model.checkpoint import save_model

from .helpers import random_game

# White king a1, black king h8: three legal moves, Kb2, Ka2, Kb1.
KINGS = "7k/8/8/8/8/8/8/K7 w - - 0 1"
# White king a1 in check from a black pawn on b2: Kxb2 (a capture), Ka2, Kb1.
CAPTURE = "k7/8/8/8/8/8/1p6/K7 w - - 0 1"


def test_player_and_model_rewards_match_a_hand_computed_position():
    board = chess.Board(KINGS)
    assert {m.uci() for m in board.legal_moves} == {"a1b2", "a1a2", "a1b1"}
    values = MoveValues(KINGS, ("a1b2", "a1a2", "a1b1"), (0.9, 0.5, 0.2))
    uniform = Player("u", 0, {"depth": 1}, eps=0.5).mistake_distribution(board)
    assert {m.uci(): p for m, p in uniform.items()} == pytest.approx({"a1b2": 1 / 3, "a1a2": 1 / 3, "a1b1": 1 / 3})
    # (1 - eps) r(engine) + eps * mean r = 0.5 * 0.9 + 0.5 * (0.9 + 0.5 + 0.2) / 3
    assert player_reward(values, "a1b2", 0.5, uniform) == pytest.approx(0.45 + 0.8 / 3)
    assert player_reward(values, "a1b1", 0.0, uniform) == pytest.approx(0.2)   # eps 0: the engine's move
    assert player_reward(values, "a1b2", 1.0, uniform) == pytest.approx(1.6 / 3)  # eps 1: the random mover
    # The model: probabilities 0.6 / 0.3 / 0.1 on b2 / a2 / b1 as log-scores.
    scores = np.log([0.6, 0.3, 0.1])
    r = np.array([0.9, 0.5, 0.2])
    assert model_reward(scores, r, 1.0) == pytest.approx(0.6 * 0.9 + 0.3 * 0.5 + 0.1 * 0.2)   # 0.71
    assert model_reward(scores, r, 0.001) == pytest.approx(0.9)            # the argmax's reward
    assert model_reward(scores, r, 1e9) == pytest.approx(1.6 / 3)          # uniform
    # T = 0.5 squares the probabilities: 0.36 / 0.09 / 0.01, normalised by 0.46.
    assert model_reward(scores, r, 0.5) == pytest.approx((0.36 * 0.9 + 0.09 * 0.5 + 0.01 * 0.2) / 0.46)


def test_a_persona_weights_its_kind_of_mistake_and_shared_mistakes_are_one_move():
    board = chess.Board(CAPTURE)
    values = MoveValues(CAPTURE, ("a1b2", "a1a2", "a1b1"), (0.8, 0.4, 0.4))
    captures = Player("c", 0, {"depth": 1}, eps=0.2, persona="captures").mistake_distribution(board)
    assert {m.uci(): p for m, p in captures.items()} == pytest.approx({"a1b2": 4 / 6, "a1a2": 1 / 6, "a1b1": 1 / 6})
    # 0.8 * 0.8 + 0.2 * (0.8 * 4/6 + 0.4 * 2/6)
    assert player_reward(values, "a1b2", 0.2, captures) == pytest.approx(0.64 + 0.2 * (3.2 / 6 + 0.8 / 6))
    # The distribution is the one the players draw their own mistakes from.
    rng = random.Random(5)
    drawn = Counter(own_mistake(board, rng, "captures").uci() for _ in range(6000))
    assert abs(drawn["a1b2"] / 6000 - 4 / 6) < 0.03
    rule = MistakeRule(share=1.0, shared="position_hash", seed=11)
    shared = Player("s", 0, {"depth": 1}, eps=0.2, mistakes=rule).mistake_distribution(board)
    assert list(shared) == [rule.shared_move(board)] and list(shared.values()) == [1.0]


def test_paired_intervals_and_verdicts():
    rng = np.random.default_rng(0)
    best = rng.uniform(0.1, 0.9, 300)          # wide spread over positions
    weaker = best - 0.05
    model = {0.001: best + 0.01, 1.0: best - 0.01 + rng.normal(0, 0.001, 300), 0.5: best + rng.normal(0, 0.05, 300)}
    stats = reward_stats(model, {"weak": weaker, "best": best}, "best", resamples=500, seed=1)
    rows = {r["temperature"]: r for r in stats["rows"]}
    assert rows[0.001]["verdict"] == "transcends" and rows[0.001]["minus_best"] == pytest.approx(1.0)
    assert rows[1.0]["verdict"] == "below"
    assert rows[0.5]["verdict"] == "inconclusive"
    # Pairing: the means' own intervals overlap widely, the difference's does not.
    assert rows[0.001]["mean_reward_ci"][0] < 100 * best.mean() < rows[0.001]["mean_reward_ci"][1]
    assert rows[0.001]["minus_best_ci"][0] > 0
    players = {p["name"]: p for p in stats["players"]}
    assert players["weak"]["minus_best"] == pytest.approx(-5.0) and players["best"]["minus_best_ci"] == [0.0, 0.0]
    assert verdict(0.1, 0.2) == "transcends" and verdict(-0.2, -0.1) == "below" and verdict(-0.1, 0.1) == "inconclusive"


def _write_dump(path, rng: random.Random, games: int, illegal_at: int | None = None) -> None:
    text = ""
    for g in range(games):
        sans = random_game(rng, rng.randint(4, 40))
        if g == illegal_at:
            sans = ["e4", "e5", "Ke3"]  # the dataset drops this game whole
        headers = {"Event": "test", "White": "eps0.875", "Black": "eps0.75", "Result": "*", "WhiteElo": "200", "BlackElo": "360"}
        text += format_pgn(headers, sans, "*")
    path.write_text(text)


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """Two small dumps (one with an illegal game) and the board dataset built from them."""
    folder = tmp_path_factory.mktemp("reward-data")
    rng = random.Random(3)
    paths = [folder / "d0.pgn", folder / "d1.pgn"]
    _write_dump(paths[0], rng, 30, illegal_at=4)
    _write_dump(paths[1], rng, 25)
    meta = build_positions(paths, folder / "train.pos", folder / "val.pos", folder / "meta.json",
                           val_fraction=0.3, seed=17)
    return folder, paths, meta


def test_val_games_are_exactly_the_positions_the_dataset_held_out(dumps):
    folder, paths, meta = dumps
    val = load_positions(folder / "val.pos")
    games = list(val_games(paths, val_fraction=0.3, seed=17))
    assert len(games) == meta["val_games"] > 0
    rows = []
    for _, _, sans in games:
        board = chess.Board()
        for san in sans:
            row = np.zeros(FEATURES, dtype=np.uint8)
            encode(board, row)
            rows.append(row)
            board.push_san(san)
    assert np.array_equal(np.stack(rows), val.features)
    # The stage's sample is drawn from those games only: each sampled position is a val row.
    found, plies = family_named("board").test_games(paths, context=None, val_fraction=0.3, seed=17)
    assert sum(plies) == len(val)
    chosen = sample_positions(found, plies, 40, seed=2)
    assert len({(p.dump, p.game, p.ply) for p in chosen}) == 40
    val_rows = {r.tobytes() for r in val.features}
    train_rows = {r.tobytes() for r in load_positions(folder / "train.pos").features}
    for p in chosen:
        row = np.zeros(FEATURES, dtype=np.uint8)
        encode(chess.Board(p.fen), row)
        assert row.tobytes() in val_rows
    assert any(row not in train_rows for row in val_rows)  # the check above could fail
    # A smaller sample is a prefix of a larger one (shared engine searches).
    assert sample_positions(found, plies, 10, seed=2) == chosen[:10]


def test_the_stage_writes_its_outputs_deterministically_for_both_families(dumps, tmp_path):
    folder, paths, meta = dumps
    torch.manual_seed(0)
    board_model = tmp_path / "board.pt"
    save_model(board_model, BoardNet(BoardNetConfig(channels=8, blocks=1)).eval(), {}, family="board")
    text_model = tmp_path / "text.pt"
    save_model(text_model, GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=63)).eval(), {})
    players = [Player("eps0.875", 200, {"depth": 1}, eps=0.875), Player("eps0.75", 360, {"depth": 1}, eps=0.75),
               Player("eps0.5", 780, {"depth": 1}, eps=0.5)]
    common = dict(cap=400, players=players, temperatures=[0.001, 1.0], positions=8, value_limit={"depth": 2},
                  val_fraction=0.3, resamples=200, seed=17,
                  engine_path="stockfish", cache_dir=tmp_path / "cache")
    outs = {}
    for name, model, expected in (("a", board_model, meta["val_games"]), ("b", board_model, None),
                                  ("text", text_model, None)):
        out = tmp_path / name
        run_expected_reward(model, paths, out / "r.json", out / "r.md", [out / "r.png", out / "r.pdf"],
                            val_games_expected=expected, **common)
        outs[name] = out
    result = json.loads((outs["a"] / "r.json").read_text())
    assert result["held_out"] is True and result["family"] == "board" and result["positions"] == 8
    assert [p["name"] for p in result["players"]] == ["eps0.875", "eps0.75"]   # eps0.5 (780) is above the cap
    assert result["best_player"] == "eps0.75" and [r["temperature"] for r in result["rows"]] == [0.001, 1.0]
    for row in result["rows"] + result["players"]:
        assert 0 <= row["mean_reward_ci"][0] <= row["mean_reward"] <= row["mean_reward_ci"][1] <= 100
    for row in result["rows"]:
        assert row["verdict"] in ("transcends", "below", "inconclusive")
        assert not any("second" in k or "time" in k for k in row)
    assert (outs["a"] / "r.json").read_bytes() == (outs["b"] / "r.json").read_bytes()   # no timings, seeded
    assert (outs["a"] / "r.pdf").read_bytes() == (outs["b"] / "r.pdf").read_bytes()
    assert "held out from training" in (outs["a"] / "r.md").read_text()
    text = json.loads((outs["text"] / "r.json").read_text())
    assert text["held_out"] is False and text["family"] == "text"
    assert "held_out false" in (outs["text"] / "r.md").read_text()
    # The text model's positions fit its context (prompt + the longest move).
    assert all(math.isfinite(r["mean_reward"]) for r in text["rows"])
    with pytest.raises(ValueError, match="held out"):
        run_expected_reward(board_model, paths, tmp_path / "c.json", tmp_path / "c.md", [tmp_path / "c.png"],
                            val_games_expected=meta["val_games"] + 1, **common)


@pytest.mark.slow
def test_board_smoke_run_measures_expected_reward_on_the_val_positions(smoke_board_run):
    """In the board smoke run (config/smoke-board.yaml via `make reproduce`), the stage's
    positions are val.pos rows and its numbers are sane."""
    import yaml

    from .conftest import ROOT

    cfg = yaml.safe_load((ROOT / "config" / "smoke-board.yaml").read_text())
    assert cfg["reward"]["caps"], "the board smoke configuration should exercise the expected-reward stage"
    for cap in cfg["reward"]["caps"]:
        out = smoke_board_run / f"results/analysis/reward/cap{cap}"
        result = json.loads(out.with_suffix(".json").read_text())
        assert result["held_out"] is True and result["family"] == "board"
        assert result["positions"] == cfg["reward"]["positions"]
        meta = json.loads((smoke_board_run / f"results/datasets/cap{cap}/meta.json").read_text())
        assert result["candidate_positions"] == meta["val_positions"]
        val_rows = {r.tobytes() for r in load_positions(smoke_board_run / f"results/datasets/cap{cap}/val.pos").features}
        for p in result["positions_detail"]:
            row = np.zeros(FEATURES, dtype=np.uint8)
            encode(chess.Board(p["fen"]), row)
            assert row.tobytes() in val_rows, p
        inside = [p["name"] for p in cfg["synthetic"]["players"] if p["elo"] <= cap]
        assert [p["name"] for p in result["players"]] == inside
        assert [r["temperature"] for r in result["rows"]] == sorted(float(t) for t in cfg["evaluate"]["temperatures"])
        for row in result["rows"]:
            assert row["minus_best_ci"][0] <= row["minus_best"] <= row["minus_best_ci"][1]
        assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
        assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
        log = (smoke_board_run / f"results/logs/analysis/reward/cap{cap}.log").read_text()
        assert "in all" in log and (smoke_board_run / f"results/benchmarks/analysis/reward/cap{cap}.tsv").is_file()

"""Favor analysis: statistics on known cases, Stockfish's multipv values and their cache,
the model's batched move samples, and one whole run on a small game file."""

from __future__ import annotations

import json

import chess
import chess.engine
import numpy as np
import pytest
import torch

from transcendence.analysis.favor import bootstrap_interval, favor_stats, favor_table, run_favor
from transcendence.analysis.game_positions import model_positions, pick_positions
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.families import family_named
from transcendence.engine.move_values import MoveValues, analyse_positions, win_probability
from transcendence.pgn.text import prompt_for
from transcendence.families.text.policy import ModelPolicy
from transcendence.families.sampling import MAX_MOVE_CHARS
from transcendence.pgn.text import format_pgn
from transcendence.model.checkpoint import save_model
from transcendence.engine.uci import _ranked_lines
from transcendence.pgn.vocab import SPACE_ID, VOCAB, encode

BACK_RANK_MATE = "6k1/5ppp/8/8/8/8/8/R6K w - - 0 1"   # Ra8# is the only mate
SCHOLARS = ["e4", "e5", "Bc4", "Nc6", "Qh5", "Nf6", "Qxf7#"]


# -- statistics ------------------------------------------------------------------------
def test_favor_is_the_mean_reward_difference_with_a_paired_bootstrap():
    # Two positions x two samples: low T finds the win in position 0 that T=1 misses.
    rewards = {1.0: np.array([[0.0, 0.0], [0.5, 0.5]]), 0.001: np.array([[1.0, 1.0], [0.5, 0.5]])}
    ranks = {1.0: np.array([[3, 0], [1, 1]]), 0.001: np.array([[1, 1], [1, 1]])}
    stats = favor_stats(rewards, ranks, resamples=2000, seed=1)
    low, base = stats["rows"]
    assert (low["temperature"], base["temperature"]) == (0.001, 1.0)
    assert low["favor"] == pytest.approx(50.0)
    assert low["mean_reward"] == pytest.approx(75.0) and base["mean_reward"] == pytest.approx(25.0)
    assert low["per_position_favor"] == pytest.approx([100.0, 0.0])
    # Resampling two positions gives means of 0, 50 or 100 percentage points.
    assert low["favor_ci"] == pytest.approx([0.0, 100.0])
    assert base["favor"] == 0 and base["favor_ci"] == [0, 0]
    assert (base["top1"], base["top3"], base["top5"], base["illegal"]) == (50.0, 75.0, 75.0, 25.0)
    assert (low["top1"], low["illegal"]) == (100.0, 0.0)
    assert low["top_decile_share_of_gain"] == pytest.approx(100.0)


def test_bootstrap_interval_is_seeded_and_collapses_without_spread():
    x = np.random.default_rng(0).normal(size=50)
    assert bootstrap_interval(x, 500, seed=3) == bootstrap_interval(x, 500, seed=3)
    low, high = bootstrap_interval(x, 2000, seed=3)
    assert low < x.mean() < high and high - low < 4 * x.std() / np.sqrt(len(x))
    assert bootstrap_interval(np.full(7, 0.25), 200, seed=3) == pytest.approx((0.25, 0.25))


def test_favor_needs_the_baseline_temperature():
    with pytest.raises(ValueError, match="T = 1.0"):
        favor_stats({0.5: np.zeros((1, 1))}, {0.5: np.zeros((1, 1), dtype=int)}, resamples=100, seed=0)


def test_table_puts_the_published_numbers_beside_ours():
    rewards = {1.0: np.array([[0.2], [0.4]]), 0.001: np.array([[0.3], [0.4]])}
    ranks = {t: np.ones((2, 1), dtype=int) for t in rewards}
    stats = favor_stats(rewards, ranks, resamples=100, seed=0)
    table = favor_table(stats, {0.001: {"favor": 2.15, "reward": 39.95, "top1": 29.6, "top3": 54.3, "top5": 66.9}},
                        "t")
    row = next(line for line in table.splitlines() if line.startswith("| 0.001"))
    assert "+5.00" in row and "+2.15" in row and "39.95" in row and "66.9" in row
    assert "paper" not in favor_table(stats, None, "t")


# -- Stockfish values ----------------------------------------------------------------------
def test_win_probability_follows_python_chess_lichess_model():
    for kind, value in (("cp", 0), ("cp", 137), ("cp", -420), ("mate", 3), ("mate", -2)):
        score = chess.engine.Cp(value) if kind == "cp" else chess.engine.Mate(value)
        for turn in (chess.WHITE, chess.BLACK):
            expected = chess.engine.PovScore(score, turn).pov(turn).wdl(model="lichess").expectation()
            assert win_probability(kind, value) == pytest.approx(expected)
    assert win_probability("cp", 0) == pytest.approx(0.5)


def test_ranked_lines_keep_each_lines_deepest_exact_score():
    lines = ["info string NNUE evaluation using nn.nnue enabled",
             "info depth 1 multipv 1 score cp 20 nodes 5 pv e2e4",
             "info depth 1 multipv 2 score cp 10 nodes 5 pv d2d4",
             "info depth 2 multipv 1 score cp 35 lowerbound nodes 9 pv d2d4",
             "info depth 2 multipv 1 score cp 30 nodes 9 pv d2d4 d7d5",
             "info depth 2 multipv 2 score mate -3 nodes 9 pv e2e4",
             "bestmove d2d4 ponder d7d5"]
    assert _ranked_lines(lines, "fen") == [("d2d4", "cp", 30), ("e2e4", "mate", -3)]


def test_multipv_values_every_legal_move_and_the_mate_is_best(tmp_path):
    values, = analyse_positions([BACK_RANK_MATE], engine_path="stockfish", limit={"depth": 6},
                                cache_dir=tmp_path, workers=1)
    board = chess.Board(BACK_RANK_MATE)
    assert sorted(values.moves) == sorted(m.uci() for m in board.legal_moves)
    assert values.moves[0] == "a1a8" and values.rank("a1a8") == 1
    assert values.value("a1a8") > 0.99 and values.best == values.value("a1a8")
    assert min(values.values) < values.value("a1a8")
    assert list(values.values) == sorted(values.values, reverse=True)


def test_cache_hit_asks_the_engine_nothing(tmp_path):
    fens = [chess.STARTING_FEN, BACK_RANK_MATE]
    first = analyse_positions(fens, engine_path="stockfish", limit={"depth": 4}, cache_dir=tmp_path, workers=2)
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 2
    # Doctor one cached entry: a re-run that returns the doctored value did not search.
    entry = next(json.loads(f.read_text()) for f in files if json.loads(f.read_text())["fen"] == BACK_RANK_MATE)
    entry["lines"][0][2] = 99  # mate in 99
    path = next(f for f in files if json.loads(f.read_text())["fen"] == BACK_RANK_MATE)
    path.write_text(json.dumps(entry))
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        again = analyse_positions(fens, engine_path="stockfish", limit={"depth": 4}, cache_dir=tmp_path,
                                  workers=2, log=fh)
    assert "2 from the cache, 0 searched" in log.read_text()
    assert again[0] == first[0]
    assert again[1].value("a1a8") == pytest.approx(win_probability("mate", 99))
    # Another limit is another key: searched afresh.
    analyse_positions(fens[:1], engine_path="stockfish", limit={"depth": 3}, cache_dir=tmp_path, workers=1)
    assert len(list(tmp_path.rglob("*.json"))) == 3


def test_move_values_rank_ties_in_stockfish_order():
    values = MoveValues.from_lines("fen", [["a", "cp", 10], ["b", "cp", 50], ["c", "cp", 10]])
    assert values.moves == ("b", "a", "c") and values.rank("c") == 3


# -- positions and samples --------------------------------------------------------------------
@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=127)).eval()


def _games_file(path, games):
    text = ""
    for white_is_model, sans, result, *termination in games:
        name = "chessformer-cap400"
        headers = {"White": name if white_is_model else "eps0.5", "Black": "eps0.5" if white_is_model else name,
                   "Result": result, "Termination": termination[0] if termination else "normal"}
        text += format_pgn(headers, sans, result)
    path.write_text(text)
    return path


def test_model_positions_are_those_put_to_the_model(tmp_path):
    pgn = _games_file(tmp_path / "g.pgn", [(True, SCHOLARS, "1-0"), (False, SCHOLARS, "1-0")])
    positions = model_positions(pgn, context=1023)
    assert [(p.game, p.ply) for p in positions] == [(0, 0), (0, 2), (0, 4), (0, 6), (1, 1), (1, 3), (1, 5)]
    board = chess.Board()
    for san in SCHOLARS[:3]:
        board.push_san(san)
    assert positions[0].fen == chess.STARTING_FEN
    assert next(p for p in positions if (p.game, p.ply) == (1, 3)).fen == board.fen()
    assert all(chess.Board(p.fen).turn == (chess.WHITE if p.game == 0 else chess.BLACK) for p in positions)
    # A forfeited game's last position was put to the model too; a drawn one's was not.
    pgn2 = _games_file(tmp_path / "f.pgn", [(True, SCHOLARS[:4], "0-1", "forfeit"),
                                            (True, SCHOLARS[:4], "1/2-1/2", "move limit")])
    assert [(p.game, p.ply) for p in model_positions(pgn2, context=1023)] == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2)]
    # A short context keeps only the positions whose prompt and longest move fit.
    assert [p.ply for p in model_positions(pgn, context=24) if p.game == 0] == [0, 2]
    assert pick_positions(positions, 3, seed=1) == pick_positions(positions, 5, seed=1)[:3]
    assert sorted(pick_positions(positions, None, seed=1), key=lambda p: (p.game, p.ply)) == positions


def test_games_without_a_single_model_player_are_refused(tmp_path):
    pgn = tmp_path / "g.pgn"
    pgn.write_text(format_pgn({"White": "a", "Black": "b", "Result": "1-0"}, SCHOLARS, "1-0"))
    with pytest.raises(ValueError, match="no single model player"):
        model_positions(pgn, context=1023)


def test_batched_samples_are_greedy_near_zero_temperature_and_legal_or_none(model):
    board, sans = chess.Board(), []
    for san in SCHOLARS[:4]:
        board.push_san(san)
        sans.append(san)
    sampler = family_named("text").position_sampler(model, board, sans, "per_character")
    # Near zero temperature every row is the greedy text, decoded here without any cache.
    ids, greedy = [int(i) for i in encode(prompt_for(sans))], ""
    while len(greedy) < MAX_MOVE_CHARS:
        token = int(model(torch.tensor([ids]))[0][0, -1].argmax())
        if token == SPACE_ID:
            break
        greedy += VOCAB[token]
        ids.append(token)
    assert sampler.texts(1e-6, 4, torch.Generator().manual_seed(0)) == [greedy] * 4
    moves = sampler.moves_at(1.0, 64, torch.Generator().manual_seed(2))
    assert len(moves) == 64 and all(m is None or m in board.legal_moves for m in moves)
    assert moves == sampler.moves_at(1.0, 64, torch.Generator().manual_seed(2))
    legal = family_named("text").position_sampler(model, board, sans, "legal_moves")
    picks = legal.moves_at(0.001, 8, torch.Generator().manual_seed(0))
    scores = ModelPolicy(model, temperature=1.0, mode="legal_moves").legal_move_scores(board, sans)
    assert picks == [scores[0][int(scores[1].argmax())]] * 8
    assert len(set(legal.moves_at(5.0, 200, torch.Generator().manual_seed(0)))) > 3


def test_run_favor_writes_table_figures_and_sane_numbers(model, tmp_path):
    pgn = _games_file(tmp_path / "g.pgn", [(True, SCHOLARS, "1-0"), (False, SCHOLARS, "1-0")])
    path = tmp_path / "model.pt"
    save_model(path, model, {})
    out = tmp_path / "out"
    stats = run_favor(path, pgn, out / "f.json", out / "f.md", [out / "f.png", out / "f.pdf"], cap=400,
                      temperatures=[0.001, 1.0], samples=6, positions=5, limit={"depth": 3}, resamples=200,
                      seed=3, mode="per_character", engine_path="stockfish", cache_dir=tmp_path / "cache",
                      reference={0.001: {"favor": 2.15}})
    assert json.loads((out / "f.json").read_text())["rows"] == stats["rows"]
    assert stats["positions"] == 5 and stats["samples"] == 6
    for row in stats["rows"]:
        assert 0 <= row["mean_reward"] <= 100 and row["favor_ci"][0] <= row["favor"] <= row["favor_ci"][1]
        assert row["top1"] <= row["top3"] <= row["top5"] <= 100 - row["illegal"] + 1e-9
    assert "+2.15" in (out / "f.md").read_text()
    assert (out / "f.png").read_bytes()[:4] == b"\x89PNG" and (out / "f.pdf").read_bytes()[:5] == b"%PDF-"


# -- configuration ------------------------------------------------------------------------------
def test_config_without_the_baseline_or_with_an_unknown_cap_stops_before_any_job(tmp_path):
    import yaml

    from .conftest import ROOT, snakemake

    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    for name, favor, needle in (("no1", dict(smoke["favor"], temperatures=[0.001, 0.75]), "the baseline of the"),
                                ("cap", dict(smoke["favor"], caps=[123]), "favor.caps lists [123]")):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(dict(smoke, favor=favor)))
        proc = snakemake("-n", "--configfile", str(cfg), workdir=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and needle in out and "Job stats" not in out, out[-2000:]

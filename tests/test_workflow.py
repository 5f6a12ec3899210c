"""The whole study end to end on the smoke configuration, with real Stockfish and training.

The run is `make reproduce` from the root of a fresh copy of the repository (tests/conftest.py);
its HTML report and the README's other commands: tests/test_readme.py.
"""

from __future__ import annotations

import csv
import json
import re

import chess
import chess.pgn
import pytest
import yaml

from transcendence.pgn.stream import iter_games
from transcendence.families import load_model

from .conftest import ROOT

pytestmark = pytest.mark.slow

SMOKE = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
CAPS = SMOKE["caps"]
TEMPS = [float(t) for t in SMOKE["evaluate"]["temperatures"]]
OPPONENTS = [o["name"] for o in SMOKE["evaluate"]["opponents"]]
SHARDS = [f"synthetic-{i:02d}" for i in range(SMOKE["synthetic"]["shards"])]


def test_every_expected_file_exists(smoke_run):
    expected = ["results/summary/ratings.csv", "results/summary/ratings.md", "results/summary/ratings.json",
                "results/figures/figure1.png", "results/figures/figure1.pdf",
                "results/figures/diagnostics.png", "results/figures/diagnostics.pdf"]
    for shard in SHARDS:
        expected += [f"results/dumps/{shard}.pgn.zst", f"results/data/{shard}/filter_stats.json",
                     f"results/logs/games/{shard}.log", f"results/logs/filter/{shard}.log"]
    for cap in CAPS:
        expected += [f"results/datasets/cap{cap}/{n}" for n in ("train.bin", "val.bin", "meta.json")]
        expected += [f"results/models/cap{cap}/model.pt", f"results/logs/train/cap{cap}.log"]
        for t in TEMPS:
            for opp in OPPONENTS:
                expected += [f"results/eval/cap{cap}/T{t}/{opp}.pgn", f"results/eval/cap{cap}/T{t}/{opp}.csv"]
    missing = [p for p in expected if not (smoke_run / p).is_file() or (smoke_run / p).stat().st_size == 0]
    assert not missing, missing
    assert (smoke_run / "results/figures/figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (smoke_run / "results/figures/figure1.pdf").read_bytes()[:5] == b"%PDF-"


def test_generated_games_count_and_players(smoke_run):
    games = [g for shard in SHARDS for g in iter_games(smoke_run / f"results/dumps/{shard}.pgn.zst")]
    assert len(games) == SMOKE["synthetic"]["games"]
    elos = {p["elo"] for p in SMOKE["synthetic"]["players"]}
    assert {int(g.tags["WhiteElo"]) for g in games} <= elos
    assert all(g.tags["Result"] in ("1-0", "0-1", "1/2-1/2") for g in games)


@pytest.mark.parametrize("cap", CAPS)
def test_filtered_games_are_at_or_under_the_cap(smoke_run, cap):
    kept = 0
    for shard in SHARDS:
        for g in iter_games(smoke_run / f"results/data/{shard}/cap{cap}.pgn.zst"):
            kept += 1
            assert int(g.tags["WhiteElo"]) <= cap and int(g.tags["BlackElo"]) <= cap
        stats = json.loads((smoke_run / f"results/data/{shard}/filter_stats.json").read_text())
        assert stats["best_rating_per_cap"][str(cap)] <= cap
    assert kept > 0
    meta = json.loads((smoke_run / f"results/datasets/cap{cap}/meta.json").read_text())
    assert meta["games"] == kept
    assert meta["train"]["games"] + meta["val"]["games"] == kept


def test_player_ladder_is_measured_from_the_games(smoke_run):
    with open(smoke_run / "results/summary/players.csv", newline="") as fh:
        rows = {r["player"]: r for r in csv.DictReader(fh)}
    players = {p["name"]: p for p in SMOKE["synthetic"]["players"]}
    assert set(rows) == set(players)
    anchor = [r for r in rows.values() if r["anchor"] == "1"]
    assert len(anchor) == 1 and float(anchor[0]["rating"]) == float(anchor[0]["configured_elo"])
    assert sum(int(r["games"]) for r in rows.values()) == 2 * SMOKE["synthetic"]["games"]
    for r in rows.values():
        assert float(r["ci_low"]) <= float(r["rating"]) <= float(r["ci_high"])


def test_caps_are_nested(smoke_run):
    counts = [sum(1 for s in SHARDS for _ in iter_games(smoke_run / f"results/data/{s}/cap{c}.pgn.zst"))
              for c in sorted(CAPS)]
    assert counts == sorted(counts)


@pytest.mark.parametrize("cap", CAPS)
def test_checkpoint_loads_and_predicts(smoke_run, cap):
    import torch

    model = load_model(smoke_run / f"results/models/cap{cap}/model.pt")
    assert model.config.block_size == SMOKE["model"]["block_size"]
    logits, _, _ = model(torch.zeros(1, 4, dtype=torch.long))
    assert logits.shape == (1, 4, 32) and torch.isfinite(logits).all()
    metrics = json.loads((smoke_run / f"results/models/cap{cap}/metrics.json").read_text())
    assert metrics["steps"] == SMOKE["train"]["max_steps"]
    # DVCLive's curves, for `dvc plots show`: one row per evaluation of the legal-move share
    share = smoke_run / f"results/models/cap{cap}/dvclive/plots/metrics/val/legal_move_share.tsv"
    rows = share.read_text().splitlines()[1:]
    assert len(rows) == len(metrics["history"]) and all(0 <= float(r.split("\t")[1]) <= 1 for r in rows)


def test_evaluation_games_are_legal_chess(smoke_run):
    n = 0
    for path in (smoke_run / "results/eval").rglob("*.pgn"):
        with open(path) as fh:
            while (game := chess.pgn.read_game(fh)) is not None:
                n += 1
                assert not game.errors, (path, game.errors)
                board = game.board()
                for move in game.mainline_moves():
                    assert move in board.legal_moves
                    board.push(move)
                assert game.headers["Engine"].startswith("Stockfish")
                assert game.headers["Result"] in ("1-0", "0-1", "1/2-1/2")
                assert game.headers["Termination"] in ("normal", "move limit", "context limit", "forfeit", "resigned")
                if game.headers["Termination"] == "normal":
                    assert board.is_game_over()
    per_shard = SMOKE["evaluate"]["games"]
    assert n == per_shard * len(CAPS) * len(TEMPS) * len(OPPONENTS)


def test_ratings_table_has_one_row_per_cap_and_temperature(smoke_run):
    with open(smoke_run / "results/summary/ratings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = "cap,temperature,rating,ci_low,ci_high,games,wins,draws,losses,forfeits".split(",")
    assert list(rows[0])[: len(header)] == header
    assert sorted((int(r["cap"]), float(r["temperature"])) for r in rows) == \
        sorted((c, t) for c in CAPS for t in TEMPS)
    for r in rows:
        assert float(r["ci_low"]) <= float(r["rating"]) <= float(r["ci_high"])
        assert int(r["wins"]) + int(r["draws"]) + int(r["losses"]) == int(r["games"])
        assert int(r["games"]) == SMOKE["evaluate"]["games"] * len(OPPONENTS)


def test_models_are_rated_against_the_calibrated_opponents(smoke_run):
    with open(smoke_run / "results/calibration/opponents.csv", newline="") as fh:
        measured = {r["name"]: r for r in csv.DictReader(fh)}
    anchor = SMOKE["calibration"]["anchor"]
    players = SMOKE["synthetic"]["players"]
    assert set(measured) == {anchor["name"], *OPPONENTS, *(p["name"] for p in players)}
    assert float(measured[anchor["name"]]["rating"]) == anchor["rating"]
    assert all(m["engine"].startswith("Stockfish") for m in measured.values())
    with open(smoke_run / "results/summary/ratings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        assert r["anchors"] == "calibrated"
        inside = [float(measured[p["name"]]["rating"]) for p in players if p["elo"] <= int(r["cap"])]
        assert float(r["best_in_data"]) == max(inside)
        assert r["verdict"] in {"transcends", "inconclusive", "below"}
        assert (r["verdict"] == "transcends") == (r["above_best"] == "1")


def test_every_rule_wrote_a_log(smoke_run):
    logs = list((smoke_run / "results/logs").rglob("*.log"))
    # games, filter per shard; dataset, train per cap; evaluate per shard; ratings; 2 figures;
    # the measured player ladder
    n_eval = len(CAPS) * len(TEMPS) * len(OPPONENTS)
    n_analysis = len(SMOKE["favor"]["caps"]) + len(SMOKE["tsne"]["caps"])  # favor, t-SNE per cap
    n_analysis += 3 + len(SMOKE["reward"]["caps"])  # theory, diversity, board example; expected reward per cap
    assert len(logs) == 2 * len(SHARDS) + 2 * len(CAPS) + n_eval + 5 + n_analysis  # + opponent calibration
    assert "tokens/s" in (smoke_run / f"results/logs/train/cap{CAPS[0]}.log").read_text()


def test_favor_analysis_and_tsne_are_sane(smoke_run):
    favor, tsne = SMOKE["favor"], SMOKE["tsne"]
    assert favor["caps"] and tsne["caps"]
    for cap in favor["caps"]:
        base = smoke_run / f"results/analysis/favor/cap{cap}"
        stats = json.loads(base.with_suffix(".json").read_text())
        assert stats["samples"] == favor["samples"] and 0 < stats["positions"] <= favor["positions"]
        assert sorted(r["temperature"] for r in stats["rows"]) == sorted(favor["temperatures"])
        for row in stats["rows"]:
            assert 0 <= row["mean_reward"] <= 100 and 0 <= row["illegal"] <= 100
            assert row["favor_ci"][0] <= row["favor"] <= row["favor_ci"][1]
            assert row["top1"] <= row["top3"] <= row["top5"] <= 100 - row["illegal"] + 1e-9
            assert len(row["per_position_favor"]) == stats["positions"]
        assert all(0 <= p["best_win_probability"] <= 1 for p in stats["positions_detail"])
        table = base.with_suffix(".md").read_text()
        assert table.count("\n| ") == 1 + len(favor["temperatures"])  # header + one row per temperature
        assert base.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
        assert base.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    for cap in tsne["caps"]:
        result = json.loads((smoke_run / f"results/analysis/tsne/cap{cap}.json").read_text())
        assert result["positions"] == len(result["points"]) >= 2
        assert all(0 <= p["win"] <= 1 for p in result["points"])
        assert (smoke_run / f"results/analysis/tsne/cap{cap}.png").read_bytes()[:4] == b"\x89PNG"
    # Both analyses read the same games: whichever ran second reused the other's engine searches.
    logs = [(smoke_run / f"results/logs/analysis/{a}/cap{cap}.log").read_text()
            for a, cap in (("favor", favor["caps"][0]), ("tsne", favor["caps"][0]))]
    assert sum(int(n) for log in logs for n in re.findall(r"(\d+) from the cache", log)) > 0


def test_theory_diversity_and_board_example_are_sane(smoke_run):
    out = smoke_run / "results/analysis"
    with open(out / "theory.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    theory = SMOKE["theory"]
    assert len(rows) == 2 * len(theory["sigmas"]) * len(theory["temperatures"])
    at = {(r["noise"], float(r["sigma"]), float(r["temperature"])): float(r["learner_accuracy"]) for r in rows}
    sigma, low = max(theory["sigmas"]), min(theory["temperatures"])
    assert sigma > 0 and max(theory["temperatures"]) >= 1.0
    # Independent noisy experts: the low-temperature majority vote is at least as good as T=1.
    assert at[("independent", sigma, low)] >= at[("independent", sigma, 1.0)]
    assert all(0 <= float(r["learner_accuracy"]) <= 1 for r in rows)
    assert (out / "theory.png").read_bytes()[:4] == b"\x89PNG" and (out / "theory.pdf").read_bytes()[:5] == b"%PDF-"

    div = json.loads((out / "diversity.json").read_text())
    assert sorted(div["caps"]) == sorted(str(c) for c in CAPS)
    with open(out / "diversity.csv", newline="") as fh:
        positions = list(csv.DictReader(fh))
    for cap, info in div["caps"].items():
        mine = [float(p["entropy"]) for p in positions if p["cap"] == cap]
        assert len(mine) == info["common_positions"] > 0
        assert all(0 <= e <= 1 for e in mine) and 0 <= info["mean_entropy"] <= 1
    assert all(int(p["visits"]) > SMOKE["diversity"]["min_count"] for p in positions)
    assert (out / "diversity.png").read_bytes()[:4] == b"\x89PNG"

    board = json.loads((out / "board.json").read_text())
    position = chess.Board(board["fen"])
    assert position.parse_san(board["majority_move"]) in position.legal_moves
    assert board["visits_in_data"] > SMOKE["diversity"]["min_count"]
    assert 0 <= board["t1_misses_majority"] <= 1
    assert abs(sum(m["p_t1"] for m in board["moves"]) - 1) < 0.01
    assert all(0 <= m["engine_expected_score"] <= 1 for m in board["moves"])
    assert (out / "board.svg").read_text().startswith("<svg")
    assert board["majority_move"] in (out / "board.md").read_text()

"""benchmarks/board_speed.py at its smallest, so it cannot rot: every part runs (its
equality checks included) and the JSON and the printed tables hold the fields BENCHMARKS.md
quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TINY = ["--channels", "8", "--blocks", "1", "--batch-size", "8", "--train-games", "5", "--train-warmup", "0",
        "--train-rounds", "1", "--train-steps", "1", "--dataset-games", "2", "--dataset-rounds", "1",
        "--eval-games", "2", "--batch-games", "2", "--max-fullmoves", "6"]


def test_board_speed_runs_every_part_and_reports_its_fields(tmp_path):
    out = tmp_path / "board_speed.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "board_speed.py"), *TINY, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())

    train = result["training"]
    assert abs(train["loss_channels_last"] - train["loss_nchw"]) <= 1e-5
    for name in ("channels_last", "nchw", "channels_last_b16"):
        assert train[name]["positions_per_cpu_s"] > 0 and train[name]["positions_per_wall_s"] > 0
    assert train["ratio_channels_last_vs_nchw"] > 0 and train["ratio_batch_double_vs_single"] > 0

    data = result["dataset"]
    assert data["positions"] > 0 and data["ratio"] > 0
    assert data["encode"]["positions_per_cpu_s"] > 0 and data["reference_encode"]["positions_per_cpu_s"] > 0

    ev = result["evaluation"]
    assert ev["same_games"] is True and ev["opponent"] == "eps0.75" and ev["mode"] == "legal_moves"
    for key in ("batch_2", "batch_1"):
        row = ev[key]
        assert row["games_per_cpu_hour"] > 0 and row["games_per_cpu_hour_with_engine"] > 0 and row["plies"] > 0
    assert ev["ratio"] > 0 and ev["ratio_with_engine"] > 0
    assert result["cpu_s"] > 0 and result["wall_s"] > 0

    for line in ("channels_last / NCHW:", "encode / reference:", "batched / one at a time:", "whole script:"):
        assert line in proc.stdout


def test_lockstep_cost_runs_and_both_loops_play_the_same_games(tmp_path):
    out = tmp_path / "lockstep.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lockstep_cost.py"), "--games", "4",
                           "--batch-games", "2", "--rounds", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["lockstep"] > 0 and result["overlap"] > 0 and result["lockstep_over_overlap"] > 0
    assert result["rounds_with_the_same_games"] == 1

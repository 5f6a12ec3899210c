"""`transcendence status`, the installed console script, on a hand-made results tree.

(On the smoke run's real results: tests/test_readme.py.)
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from transcendence.rating.table import RATINGS_COLUMNS

from .conftest import ROOT

SCRIPT = Path(sys.executable).with_name("transcendence")


def status(root: Path, *args: str) -> subprocess.CompletedProcess:
    # The checkout's package, wherever the installed script's editable install points.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([str(SCRIPT), "status", *args], cwd=root, capture_output=True, text=True, timeout=60,
                          env=env)


def test_status_lists_configs_results_ratings_and_verdicts(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    smoke = yaml.safe_load((tmp_path / "config" / "smoke.yaml").read_text())
    cap, other = smoke["caps"]
    (tmp_path / f"results/models/cap{cap}").mkdir(parents=True)
    (tmp_path / f"results/models/cap{cap}/model.pt").write_bytes(b"")
    rows = [{"cap": cap, "temperature": 0.1, "rating": 512.4, "ci_low": 400, "ci_high": 620, "games": 20,
             "wins": 15, "draws": 1, "losses": 4, "forfeits": 0, "best_in_data": 360, "verdict": "transcends"},
            {"cap": cap, "temperature": 1.0, "rating": 300, "ci_low": 200, "ci_high": 410, "games": 20,
             "wins": 9, "draws": 2, "losses": 9, "forfeits": 3, "best_in_data": 360, "verdict": "inconclusive"}]
    (tmp_path / "results/summary").mkdir(parents=True)
    with open(tmp_path / "results/summary/ratings.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RATINGS_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)

    proc = status(tmp_path, "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("config.yaml", "paper.yaml", "smoke.yaml"):
        assert name in out
    assert " * smoke.yaml " in out and " * config.yaml " not in out    # the one asked about
    assert f"  models{' ' * 22}1/{len(smoke['caps'])}\n" in out
    # Each model present, as the command that plays it as a UCI engine
    assert f"  transcendence uci --model results/models/cap{cap}/model.pt\n" in out
    assert f"--model results/models/cap{other}/" not in out
    assert "  ratings                     1/1\n" in out
    assert "  512    [400, 620]    20    15/1/4        0          360  transcends" in out
    assert f"  cap {cap}: 1 transcends, 1 inconclusive of 2 temperatures; highest rating 512 [400, 620] at T=0.1" in out
    assert f"cap {other}" not in out.split("Verdicts")[1]
    # cap 800 has no rows yet: the table is not what the config plans
    assert "Note: the ratings are for other (cap, temperature) pairs" in out


def test_status_without_results_says_how_to_make_them(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    proc = status(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " * config.yaml " in proc.stdout and "No ratings yet" in proc.stdout
    assert "transcendence uci" not in proc.stdout  # no trained model yet
    missing = status(tmp_path, "--configfile", "config/nope.yaml")
    assert missing.returncode == 2 and "no config file config/nope.yaml" in missing.stdout

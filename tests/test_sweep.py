"""Sweeps: the study once per condition in one Snakemake call, and the sweep's summary.

The end-to-end test runs config/smoke-sweep.yaml (config/smoke-board.yaml's study under two
seeds) with `make reproduce` from a fresh copy of the repository, as tests/conftest.py runs the
smoke configurations; the rest are unit tests and dry runs.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

from transcendence.analysis.sweep import (ACROSS_COLUMNS, SUMMARY_COLUMNS, across_rows, condition_settings,
                                          replicate_figure, summary_figure, summary_rows, write_summary,
                                          write_sweep_summary)
from transcendence.config_check import ConfigError
from transcendence.provenance.dvc_stages import main as dvc_stages_main
from transcendence.sweep_conditions import condition_configs, deep_merge, sweep_kind

from .conftest import ROOT, copy_repository, link_environment, shell, snakemake

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
SWEEP = yaml.safe_load((ROOT / "config/smoke-sweep.yaml").read_text())
NAME = SWEEP["sweep"]["name"]
CONDITIONS = list(SWEEP["sweep"]["conditions"])


def test_deep_merge_merges_mappings_and_replaces_lists_and_scalars():
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 2}
    merged = deep_merge(base, {"a": {"c": [3], "d": {"g": 4}}, "f": {"h": 5}})
    assert merged == {"a": {"b": 1, "c": [3], "d": {"e": 1, "g": 4}}, "f": {"h": 5}}
    merged["a"]["d"]["e"] = 99
    assert base["a"]["d"]["e"] == 1  # the base is never shared with the result


def test_each_condition_is_the_file_with_its_overrides():
    configs = condition_configs(SWEEP, SCHEMA, engine=False)
    assert list(configs) == CONDITIONS
    plain = {k: v for k, v in SWEEP.items() if k != "sweep"}
    assert configs["s8"] == plain == yaml.safe_load((ROOT / "config/smoke-board.yaml").read_text())
    shared = {**plain["synthetic"], "mistakes": {**plain["synthetic"]["mistakes"], "share": 1.0}}
    assert configs["s9"] == {**plain, "seed": 9, "synthetic": shared}


def test_a_bad_condition_fails_naming_it():
    bad = deep_merge(SWEEP, {"sweep": {"conditions": {"s9": {"synthetic": {"gamez": 3}}}}})
    with pytest.raises(ConfigError, match=r"(?s)sweep condition 's9'.*synthetic: unknown key 'gamez'"):
        condition_configs(bad, SCHEMA, engine=False)


def test_a_bad_condition_stops_snakemake_before_any_job(tmp_path):
    bad = deep_merge(SWEEP, {"sweep": {"conditions": {"s9": {"evaluate": {"games": 0}}}}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = snakemake("-n", "--configfile", str(path), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "sweep condition 's9'" in out and "evaluate.games" in out, out[-3000:]
    assert "Job stats" not in out


def test_a_condition_name_must_be_a_safe_folder_and_rule_prefix(tmp_path):
    bad = deep_merge(SWEEP, {"sweep": {"conditions": {"../up": {}}}})
    with pytest.raises(ConfigError, match="sweep.conditions"):
        condition_configs(bad, SCHEMA, engine=False)


def test_a_condition_that_repeats_another_fails_naming_both():
    """The same configuration twice is one run counted twice (in a replicate sweep, one seed
    counted twice in "k of n")."""
    bad = deep_merge(SWEEP, {"sweep": {"conditions": {"again": {}}}})
    with pytest.raises(ConfigError,
                       match=r"sweep condition 'again': the same configuration as condition 's8' \(seed 8\)"):
        condition_configs(bad, SCHEMA, engine=False)
    bad = deep_merge(SWEEP, {"sweep": {"conditions": {"s10": {"seed": 9, "synthetic": {"mistakes": {"share": 1.0}}}}}})
    with pytest.raises(ConfigError, match="sweep condition 's10': the same configuration as condition 's9'"):
        condition_configs(bad, SCHEMA, engine=False)


def test_a_sweep_whose_conditions_differ_in_seed_alone_is_a_replicate_sweep():
    seeds = yaml.safe_load((ROOT / "config/seeds.yaml").read_text())
    configs = condition_configs(seeds, SCHEMA, engine=False)
    assert sweep_kind(configs) == "replicates"
    assert [c["seed"] for c in configs.values()] == [20240611, 20240612, 20240613, 20240614, 20240615]
    # The smoke sweep's second condition also shares every mistake; the diversity sweeps differ in
    # the share (and rule) alone.
    assert sweep_kind(condition_configs(SWEEP, SCHEMA, engine=False)) == "conditions"
    for name in ("diversity.yaml", "diversity-pilot.yaml"):
        config = yaml.safe_load((ROOT / "config" / name).read_text())
        assert sweep_kind(condition_configs(config, SCHEMA, engine=False)) == "conditions", name
    # Any other key that differs, however deep, makes it a sweep of conditions; one condition is none.
    other = deep_merge(seeds, {"sweep": {"conditions": {"s20240615": {"evaluate": {"games": 40}}}}})
    assert sweep_kind(condition_configs(other, SCHEMA, engine=False)) == "conditions"
    assert sweep_kind({"s1": configs["s20240611"]}) == "conditions"
    assert sweep_kind({"a": {"seed": 1, "x": {"y": 1}}, "b": {"seed": 2, "x": {"y": 1}}}) == "replicates"


def test_condition_settings_read_the_mistake_rule():
    assert condition_settings({"seed": 3, "synthetic": {"mistakes": {"share": 0.0}}}) == {
        "seed": 3, "share": 0.0, "shared_rule": "network"}
    assert condition_settings({"seed": 3, "synthetic": {"mistakes": {"share": 1.0, "shared": "position_hash"}}}
                              )["shared_rule"] == "position_hash"
    assert condition_settings({"seed": 3, "synthetic": {"mistakes": {"share": 0.25, "shared": "network"}}}) == {
        "seed": 3, "share": 0.25, "shared_rule": "network"}


def _ratings_row(cap, temperature, rating, best=300.0):
    return {"cap": str(cap), "temperature": str(temperature), "rating": str(rating), "ci_low": str(rating - 50),
            "ci_high": str(rating + 50), "best_in_data": str(best), "best_player": "eps0.75",
            "h2h_score": "0.56", "h2h_ci_low": "0.52", "h2h_ci_high": "0.6", "h2h_verdict": "transcends",
            "verdict": "transcends"}


def _reward_row(temperature, minus_best):
    return {"temperature": temperature, "mean_reward": 0.5, "mean_reward_ci": [0.4, 0.6], "minus_best": minus_best,
            "minus_best_ci": [minus_best - 1, minus_best + 1], "verdict": "transcends"}


def test_summary_rows_join_ratings_reward_and_ideal_learner():
    ratings = [_ratings_row(400, 0.001, 381.0), _ratings_row(400, 1.0, 103.0), _ratings_row(800, 0.001, 461.0, 649.0)]
    rewards = {400: {"rows": [_reward_row(0.001, 3.82), _reward_row(1.0, -2.44)], "best_player": "eps0.75",
                     "ideal": {"rows": [_reward_row(0.001, 5.0)], "majority_engine": 0.9,
                               "majority_shared": 0.05, "model_top_shared_where_majority_shared": None,
                               "positions_majority_shared": 10}}}
    rows = summary_rows("p0", {"seed": 7, "share": 0.0, "shared_rule": "network"}, ratings, rewards)
    assert [(r["cap"], r["temperature"]) for r in rows] == [(400, 0.001), (400, 1.0), (800, 0.001)]
    low = rows[0]
    assert (low["condition"], low["seed"], low["share"], low["shared_rule"]) == ("p0", 7, 0.0, "network")
    assert low["rating_minus_best"] == pytest.approx(81.0)
    # The rating margin's interval: the model's interval minus the best player's point rating.
    assert (low["rating_minus_best_ci_low"], low["rating_minus_best_ci_high"]) == (pytest.approx(31.0), pytest.approx(131.0))
    assert (low["h2h_score"], low["h2h_verdict"]) == (0.56, "transcends")
    assert (low["reward_minus_best"], low["reward_minus_best_ci_low"], low["reward_verdict"]) == (3.82, pytest.approx(2.82), "transcends")
    assert (low["ideal_reward_minus_best"], low["ideal_majority_engine"], low["ideal_majority_shared"]) == (5.0, 0.9, 0.05)
    assert low["model_top_shared_where_majority_shared"] is None
    assert rows[1]["ideal_reward_minus_best"] is None and rows[1]["reward_minus_best"] == -2.44
    # Cap 800 has no reward analysis: its reward columns are empty.
    assert all(rows[2][k] in (None, "") for k in SUMMARY_COLUMNS if "reward" in k or k.startswith("ideal"))


def test_summary_table_and_figure_are_written(tmp_path):
    rows = []
    for name, share, rule in (("p0", 0.0, "network"), ("p1", 1.0, "network"), ("hash", 1.0, "position_hash")):
        rows += summary_rows(name, {"seed": 7, "share": share, "shared_rule": rule},
                             [_ratings_row(400, 0.001, 381.0 - 100 * share), _ratings_row(400, 1.0, 103.0)],
                             {400: {"rows": [_reward_row(0.001, 3.0 - 4 * share), _reward_row(1.0, -2.0)],
                                    "ideal": {"rows": [_reward_row(0.001, 5.0 - 6 * share)]}}})
    write_summary(rows, tmp_path / "summary.csv")
    with open(tmp_path / "summary.csv", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert list(read[0]) == SUMMARY_COLUMNS and len(read) == 6
    assert read[0]["model_top_shared_where_majority_shared"] == ""
    summary_figure(rows, [tmp_path / "summary.png", tmp_path / "summary.pdf"])
    assert (tmp_path / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "summary.pdf").read_bytes()[:5] == b"%PDF-"


def test_the_rating_margin_is_the_joint_difference_and_the_head_to_head_the_pair_score_when_the_table_has_them():
    """A ratings table with the joint likelihood's difference and the pair score (new) and one
    without (older): the summary takes the new columns where they are, else falls back."""
    old = _ratings_row(400, 0.001, 381.0)
    new = {**old, "minus_best": "98.1", "minus_best_ci_low": "14.2", "minus_best_ci_high": "181.9",
           "h2h_pairs": "40", "h2h_pair_score": "0.4", "h2h_pair_ci_low": "0.3", "h2h_pair_ci_high": "0.45",
           "h2h_games": "80"}
    # Columns present but empty (no best player, or no pairs played): the older measures.
    empty = {**old, "minus_best": "", "minus_best_ci_low": "", "minus_best_ci_high": "", "h2h_pairs": "0",
             "h2h_pair_score": "", "h2h_pair_ci_low": "", "h2h_pair_ci_high": "", "h2h_games": "80"}
    settings = {"seed": 7, "share": 0.0, "shared_rule": "network"}
    joint, fallback, blank = (summary_rows("s", settings, [r], {})[0] for r in (new, old, empty))
    assert (joint["rating_minus_best"], joint["rating_minus_best_ci_low"], joint["rating_minus_best_ci_high"],
            joint["rating_minus_best_from"]) == (98.1, 14.2, 181.9, "joint")
    assert joint["rating"] == 381.0 and joint["rating_ci_low"] == 331.0  # the model's own interval stays
    # The pair score's verdict comes from its interval (below 0.5 here), not the games' column.
    assert (joint["h2h_score"], joint["h2h_ci_low"], joint["h2h_ci_high"], joint["h2h_verdict"],
            joint["h2h_from"], joint["h2h_count"]) == (0.4, 0.3, 0.45, "below", "pairs", 40)
    for row in (fallback, blank):
        assert (row["rating_minus_best"], row["rating_minus_best_ci_low"], row["rating_minus_best_ci_high"],
                row["rating_minus_best_from"]) == (pytest.approx(81.0), pytest.approx(31.0), pytest.approx(131.0),
                                                   "model_ci")
        assert (row["h2h_score"], row["h2h_ci_low"], row["h2h_verdict"], row["h2h_from"]) == (
            0.56, 0.52, "transcends", "games")
    assert blank["h2h_count"] == 80 and fallback["h2h_count"] is None  # the old test row has no h2h_games
    inconclusive = summary_rows("s", settings, [{**new, "h2h_pair_ci_low": "0.45", "h2h_pair_ci_high": "0.6"}], {})
    assert inconclusive[0]["h2h_verdict"] == "inconclusive"


# Five seeds' rating margins, verdicts and reward margins at (cap 400, T = 0.001), hand-made.
MARGINS = [(98.0, "transcends", 3.0), (60.0, "transcends", 2.0), (10.0, "inconclusive", -1.0),
           (80.0, "transcends", 4.0), (52.0, "inconclusive", 2.0)]


def _seed_rows(margins=MARGINS, temperature=0.001):
    rows = []
    for i, (margin, verdict, reward) in enumerate(margins):
        rating = {**_ratings_row(400, temperature, 300.0 + margin), "minus_best": str(margin),
                  "minus_best_ci_low": str(margin - 40), "minus_best_ci_high": str(margin + 40), "verdict": verdict,
                  "h2h_pair_score": str(0.5 + margin / 1000), "h2h_pair_ci_low": str(0.51 if margin > 50 else 0.45),
                  "h2h_pair_ci_high": "0.7", "h2h_pairs": "40"}
        rows += summary_rows(f"s{i}", {"seed": 100 + i, "share": 0.0, "shared_rule": "network"}, [rating],
                             {400: {"rows": [_reward_row(temperature, reward)]}}, kind="seed")
    return rows


def test_across_seed_rows_hold_mean_sd_min_max_and_k_of_n():
    rows = _seed_rows() + _seed_rows([(-20.0, "below", -2.0), (20.0, "inconclusive", 1.0)], temperature=1.0)
    rows[-1]["reward_minus_best"] = None  # a seed without the measure is not counted in its n
    low, high = across_rows(rows)
    assert (low["kind"], low["condition"], low["cap"], low["temperature"], low["seed"]) == (
        "across", "all", 400, 0.001, None)
    assert (low["share"], low["shared_rule"], low["best_player"]) == (0.0, "network", "eps0.75")
    # rating margins 98, 60, 10, 80, 52: mean 60, sample SD sqrt((38² + 0² + 50² + 20² + 8²) / 4) = 33.1964
    assert low["rating_minus_best_mean"] == 60.0
    assert low["rating_minus_best_sd"] == pytest.approx(33.1964, abs=1e-4)
    assert (low["rating_minus_best_min"], low["rating_minus_best_max"]) == (10.0, 98.0)
    assert (low["rating_transcends_k"], low["rating_n"]) == (3, 5)
    # head to head over pairs: 0.598, 0.56, 0.51, 0.58, 0.552; verdicts from the pair intervals.
    assert low["h2h_score_mean"] == pytest.approx(0.56)
    assert (low["h2h_transcends_k"], low["h2h_n"]) == (4, 5)
    # reward margins 3, 2, -1, 4, 2 (each verdict `transcends` in the hand-made reward rows).
    assert (low["reward_minus_best_mean"], low["reward_minus_best_sd"]) == (2.0, pytest.approx(1.8708, abs=1e-4))
    assert (low["reward_transcends_k"], low["reward_n"]) == (5, 5)
    # T = 1.0: two seeds, one of them without a reward; one value has no SD.
    assert (high["rating_minus_best_mean"], high["rating_minus_best_sd"], high["rating_transcends_k"],
            high["rating_n"]) == (0.0, pytest.approx(28.2843, abs=1e-4), 0, 2)
    assert (high["reward_minus_best_mean"], high["reward_minus_best_sd"], high["reward_n"]) == (-2.0, None, 1)
    # A measure no seed has is empty, k and n too.
    none = across_rows([{**r, "reward_minus_best": None} for r in _seed_rows()])[0]
    assert all(none[k] is None for k in ACROSS_COLUMNS if k.startswith("reward"))


def test_a_replicate_sweeps_summary_holds_seed_and_across_rows_and_its_figure(tmp_path):
    rows = _seed_rows() + _seed_rows(temperature=1.0)
    table = write_sweep_summary("replicates", [{**r, "kind": "condition"} for r in rows], tmp_path / "summary.csv",
                                [tmp_path / "summary.png", tmp_path / "summary.pdf"], sweep="seeds")
    with open(tmp_path / "summary.csv", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert list(read[0]) == SUMMARY_COLUMNS and len(read) == len(table) == 12
    assert [r["kind"] for r in read] == ["seed"] * 10 + ["across"] * 2
    assert [(r["condition"], r["temperature"]) for r in read[-2:]] == [("all", "0.001"), ("all", "1.0")]
    assert (read[-1]["rating_transcends_k"], read[-1]["rating_n"], read[-1]["rating_minus_best_mean"]) == (
        "3", "5", "60.0")
    assert read[-1]["rating_minus_best"] == "" and read[0]["rating_minus_best_mean"] == ""
    assert read[0]["rating_minus_best_from"] == "joint" and read[0]["h2h_from"] == "pairs"
    assert (tmp_path / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "summary.pdf").read_bytes()[:5] == b"%PDF-"
    # A sweep of conditions keeps its rows as they are (kind `condition`) and adds none.
    conditions = write_sweep_summary("conditions", rows, tmp_path / "c.csv", [tmp_path / "c.png"])
    assert [r["kind"] for r in conditions] == ["seed"] * 10 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown kind of sweep"):
        write_sweep_summary("seeds", rows, tmp_path / "x.csv", [tmp_path / "x.png"])


def test_the_replicate_figure_marks_a_measure_no_seed_has(tmp_path):
    rows = [{**r, "reward_minus_best": None} for r in _seed_rows()]
    replicate_figure(rows + across_rows(rows), [tmp_path / "f.png", tmp_path / "f.pdf"])
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"


def _jobs(out: str) -> dict[str, list[str]]:
    """Each job's block of a dry run, by rule."""
    jobs: dict[str, list[str]] = {}
    for block in re.split(r"^(?:local)?rule ", out, flags=re.M)[1:]:
        name, _, body = block.partition(":\n")
        jobs.setdefault(name, []).append(body)
    return jobs


def test_dry_run_puts_every_condition_under_its_folder_with_the_profiles_threads(tmp_path):
    proc = snakemake("-n", "--cores", "8", "--configfile", str(ROOT / "config/smoke-sweep.yaml"), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = _jobs(out)
    for condition in CONDITIONS:
        assert len(jobs[f"{condition}_train"]) == len(SWEEP["caps"])
        # The profile's set-threads name the study's rules; each condition's copy gets them.
        assert all("threads: 4" in body for body in jobs[f"{condition}_dataset"])
        assert all("threads: 2" in body for body in jobs[f"{condition}_expected_reward"])
    paths = re.findall(r"^    (?:input|output|log|benchmark): (.*)$", out, re.M)
    files = [p for line in paths for p in line.split(", ")]
    assert files and all(p.startswith(f"results/{NAME}/") for p in files), [p for p in files if not p.startswith(f"results/{NAME}/")]
    assert {p.split("/")[2] for p in files} == {*CONDITIONS, "summary.csv", "summary.png", "summary.pdf", "logs", "benchmarks"}
    assert "sweep_summary" in jobs and "all" in jobs



def test_the_slurm_profiles_settings_reach_each_conditions_rules(tmp_path):
    proc = snakemake("-n", "--workflow-profile", str(ROOT / "workflow/profiles/slurm"),
                     "--configfile", str(ROOT / "config/smoke-sweep.yaml"), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for body in [b for c in CONDITIONS for b in _jobs(out)[f"{c}_train"]]:
        assert "threads: 16" in body and "mem_mb=64000" in body and "runtime=2880" in body, body

def test_dvc_yaml_is_refused_for_a_sweep(tmp_path, capsys):
    with pytest.raises(SystemExit, match="is a sweep"):
        dvc_stages_main(["--configfile", str(ROOT / "config/smoke-sweep.yaml"), "--dry-run", "/dev/null",
                         "--output", str(tmp_path / "dvc.yaml")])
    assert not (tmp_path / "dvc.yaml").exists()


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Path:
    """config/smoke-sweep.yaml through `make reproduce CONFIG=...` from a fresh copy's root."""
    repo = copy_repository(tmp_path_factory.mktemp("sweep") / "repo")
    link_environment(repo)
    proc = shell("make reproduce CORES=2 CONFIG=config/smoke-sweep.yaml", cwd=repo)
    if proc.returncode != 0:
        pytest.fail(f"sweep run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return repo


@pytest.mark.slow
def test_sweep_runs_each_condition_under_its_own_folder(sweep_run):
    results = sweep_run / "results"
    for condition in CONDITIONS:
        base = results / NAME / condition
        for path in ("summary/ratings.csv", "figures/figure1.png", "summary/players.csv", "calibration/opponents.csv",
                     "analysis/reward/cap400.json", "analysis/favor/cap400.json", "models/cap400/model.pt",
                     "models/cap400/train_state.pt", "models/cap400/dvclive", "logs/train/cap400.log",
                     "benchmarks/train/cap400.tsv"):
            assert (base / path).exists(), base / path
    # Nothing at a plain run's paths: only the tracked README, the shared move-value cache and
    # (when test_the_sweeps_report_holds_its_summary ran first) `make report`'s file.
    assert sorted(p.name for p in results.iterdir() if p.name != "report.html") == sorted(["README.md", "cache", NAME])
    # Different seeds, different games.
    dumps = [(results / NAME / c / "dumps/synthetic-00.pgn.zst").read_bytes() for c in CONDITIONS]
    assert dumps[0] != dumps[1]


@pytest.mark.slow
def test_sweep_summary_has_a_row_per_condition_cap_and_temperature(sweep_run):
    with open(sweep_run / "results" / NAME / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(SUMMARY_COLUMNS) <= set(rows[0])
    temperatures = [float(t) for t in SWEEP["evaluate"]["temperatures"]]
    assert [(r["condition"], int(r["cap"]), float(r["temperature"])) for r in rows] == [
        (c, cap, t) for c in CONDITIONS for cap in SWEEP["caps"] for t in temperatures]
    assert {(r["seed"], r["share"]) for r in rows} == {("8", "0.0"), ("9", "1.0")}
    # Every mistake shared: the ideal learner's vote is the shared move wherever the players
    # err more often than they play the engine's move (eps0.875 and eps0.75 at cap 400).
    shared = [r for r in rows if r["share"] == "1.0" and r["ideal_majority_shared"] != ""]
    assert shared and all(float(r["ideal_majority_shared"]) > 0.5 for r in shared)
    reward_caps = {str(c) for c in SWEEP["reward"]["caps"]}
    assert all((r["reward_minus_best"] != "") == (r["cap"] in reward_caps) for r in rows)
    # The rating margin is each condition's ratings table's joint difference, passed through.
    for r in rows:
        with open(sweep_run / "results" / NAME / r["condition"] / "summary/ratings.csv", newline="") as fh:
            rated = {(int(x["cap"]), float(x["temperature"])): x for x in csv.DictReader(fh)}
        source = rated[(int(r["cap"]), float(r["temperature"]))]
        assert r["rating_minus_best_from"] == "joint" == source["minus_best_method"]
        for column in ("", "_ci_low", "_ci_high"):
            assert float(r[f"rating_minus_best{column}"]) == float(source[f"minus_best{column}"])
        assert r["rating_verdict"] == source["verdict"]
    assert (sweep_run / "results" / NAME / "summary.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_condition_is_byte_for_byte_a_plain_run_of_its_config(sweep_run, smoke_board_run):
    """Condition s8 is config/smoke-board.yaml: its games, models and ratings are the plain run's."""
    plain = smoke_board_run / "results"
    condition = sweep_run / "results" / NAME / "s8"
    for path in ("dumps/synthetic-00.pgn.zst", "dumps/synthetic-01.pgn.zst", "summary/ratings.csv",
                 "summary/players.csv", "models/cap400/model.pt", "eval/cap400/T0.1/eps0.5.pgn"):
        assert (condition / path).read_bytes() == (plain / path).read_bytes(), path
    reward = [json.loads((root / "analysis/reward/cap400.json").read_text()) for root in (condition, plain)]
    assert reward[0] == reward[1]


@pytest.mark.slow
def test_the_sweeps_report_holds_its_summary(sweep_run):
    proc = shell("make report CONFIG=config/smoke-sweep.yaml", cwd=sweep_run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (sweep_run / "results/report.html").read_text(errors="replace")
    for needle in ("Sweep", "summary.csv", "summary.png", "Figure 1", "s8_figure1", "s9_ratings"):
        assert needle in html, needle

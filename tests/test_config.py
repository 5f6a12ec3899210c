"""The config is validated before any job runs; the lint and the paper's DAG are clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import ROOT, snakemake

SMOKE = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


def _write(tmp_path, cfg) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _fails_before_any_job(tmp_path, cfg, *needles: str) -> None:
    """A real (not dry) run with a bad config must stop at validation: no job, no output."""
    proc = snakemake("--cores", "1", "--configfile", _write(tmp_path, cfg), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "validating" in out.lower() or "validation" in out.lower(), out[-3000:]
    for needle in needles:
        assert needle in out, out[-3000:]
    assert "Job stats" not in out
    assert not (tmp_path / "results").exists()


def test_wrong_key_fails_naming_it(tmp_path):
    cfg = dict(SMOKE, temprature=[1.0])
    _fails_before_any_job(tmp_path, cfg, "temprature")


def test_wrong_nested_key_fails_naming_it(tmp_path):
    cfg = dict(SMOKE, train=dict(SMOKE["train"], learning_rat=0.1))
    _fails_before_any_job(tmp_path, cfg, "learning_rat")


def test_wrong_value_fails_naming_it(tmp_path):
    cfg = dict(SMOKE, evaluate=dict(SMOKE["evaluate"], mode="greedy"))
    _fails_before_any_job(tmp_path, cfg, "greedy")


def test_negative_temperature_fails(tmp_path):
    cfg = dict(SMOKE, evaluate=dict(SMOKE["evaluate"], temperatures=[0.5, -1.0]))
    _fails_before_any_job(tmp_path, cfg, "-1.0")


def test_numbers_that_are_not_finite_and_a_seed_too_large_fail_before_any_job_naming_each_key(tmp_path):
    """NaN passes every minimum and maximum of the schema and infinity every minimum; a seed
    of 10**23 passed, and games, filter and dataset ran before training refused it."""
    cfg = dict(SMOKE, seed=10**23, evaluate=dict(SMOKE["evaluate"], temperatures=[float("nan"), float("inf")]),
               train=dict(SMOKE["train"], learning_rate=float("nan")))
    _fails_before_any_job(tmp_path, cfg, "evaluate.temperatures[0]: nan is not a finite number",
                          "evaluate.temperatures[1]: inf is not a finite number",
                          "train.learning_rate: nan is not a finite number",
                          "seed: 100000000000000000000000 is greater than the maximum of 18446744073709551615")


def test_the_seed_bound_is_what_every_consumer_of_the_seed_takes():
    """The schema's maximum is torch.manual_seed's (training's, the narrowest consumer): it and
    numpy's and Python's generators, as the stages call them, take it; torch refuses one more."""
    import random

    import numpy as np
    import pytest
    import torch

    from transcendence.config_check import ConfigError, check_schema

    schema_path = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    top = yaml.safe_load(schema_path.read_text())["properties"]["seed"]["maximum"]
    torch.manual_seed(top)
    np.random.default_rng([top, 0, 0]).integers(0, 10)
    np.random.default_rng(top).permutation(3)
    random.Random(f"{top}/buckets/0").random()
    with pytest.raises((RuntimeError, ValueError), match="Overflow"):  # RuntimeError in torch's docs, ValueError here
        torch.manual_seed(top + 1)
    check_schema(dict(SMOKE, seed=top), schema_path)
    with pytest.raises(ConfigError, match=rf"seed: {top + 1} is greater than the maximum of {top}"):
        check_schema(dict(SMOKE, seed=top + 1), schema_path)


def test_smoke_config_is_valid_and_plans_jobs(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "smoke.yaml"), workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Lints for" not in proc.stdout + proc.stderr


def _job_counts(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_dry_run_of_the_paper_config_plans_the_full_grid(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "paper.yaml"), workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout + proc.stderr)
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert paper["caps"] == [1000, 1300, 1500]
    assert len(paper["evaluate"]["temperatures"]) == 8
    assert counts["train"] == 3
    assert counts["evaluate"] == 3 * 8 * 3   # caps x temperatures x Stockfish levels
    assert counts["download_month"] == len(paper["lichess"]["months"]) == 10


def test_experts_gpu_config_plans_the_synthetic_study_on_one_gpu(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "experts-gpu.yaml"), workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout + proc.stderr)
    cfg = yaml.safe_load((ROOT / "config" / "experts-gpu.yaml").read_text())
    assert cfg["train"]["gpus"] == 1 and cfg["synthetic"]["games"] >= 100_000
    m = cfg["model"]
    assert 12 * m["n_layer"] * m["n_embd"] ** 2 >= 10_000_000   # tens of millions of parameters
    assert counts["synthetic_games"] == cfg["synthetic"]["shards"]
    assert counts["evaluate"] == len(cfg["caps"]) * len(cfg["evaluate"]["temperatures"]) * len(cfg["evaluate"]["opponents"])


def test_default_config_runs_offline_on_synthetic_games(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), workdir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout + proc.stderr)
    assert "download_month" not in counts and counts["synthetic_games"] >= 1


def test_dvc_sees_the_same_stages():
    """`dvc dag` in the repository (real DVC, real git) lists every stage of the study."""
    dvc = Path(sys.executable).with_name("dvc")
    proc = subprocess.run([str(dvc), "dag", "--md"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    caps = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["caps"]
    stages = ["synthetic_games", "filter_dump", "ratings", "figure1"]
    stages += [f"{rule}-cap{c}" for rule in ("dataset", "train", "evaluate") for c in caps]
    for stage in stages:
        assert stage in proc.stdout, (stage, proc.stdout)
    assert "analytics = false" in (ROOT / ".dvc" / "config").read_text()

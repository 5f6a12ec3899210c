"""The study on a cluster: what the SLURM profile submits, and a real single-node SLURM run.

The dry runs are fast and always run. The real run brings up SLURM from Debian's packages on
this machine (root or sudo, apt-get) and runs the smoke configuration through it; it takes
minutes, so it is opt-in:  TRANSCENDENCE_SLURM_TEST=1 pytest tests/test_cluster.py
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, snakemake

SLURM_PROFILE = ROOT / "workflow" / "profiles" / "slurm"
DEFAULT_PROFILE = ROOT / "workflow" / "profiles" / "default"
SETUP = ROOT / "workflow" / "setup" / "local_slurm.sh"
PROFILE = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
SMOKE = ROOT / "config" / "smoke.yaml"


@dataclass
class PlannedJob:
    rule: str
    group: int | None                       # which group job it is in (index), if any
    group_name: str | None
    threads: int = 1
    resources: dict[str, str] = field(default_factory=dict)
    wildcards: dict[str, str] = field(default_factory=dict)


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(", ") if "=" in item)


def planned_jobs(out: str) -> list[PlannedJob]:
    """Every job of a dry run's listing, with its group job (if any), threads and resources."""
    jobs: list[PlannedJob] = []
    group, group_name, groups = None, None, 0
    for line in out.splitlines():
        if m := re.match(r"^\[.*\] Group job (\S+) ", line):
            group, group_name, groups = groups, m.group(1), groups + 1
        elif re.match(r"^(\[|rule |localrule )", line):
            group, group_name = None, None      # an unindented job: outside any group
        if m := re.match(r"^\s*(?:local)?rule (\w+):$", line):
            jobs.append(PlannedJob(m.group(1), group if line.startswith(" ") else None,
                                   group_name if line.startswith(" ") else None))
        elif jobs and (m := re.match(r"^\s+(threads|resources|wildcards): (.*)$", line)):
            key, value = m.groups()
            if key == "threads":
                jobs[-1].threads = int(value)
            else:
                setattr(jobs[-1], key, _pairs(value))
    return jobs


@pytest.fixture(scope="module")
def paper_on_slurm(tmp_path_factory) -> list[PlannedJob]:
    work = tmp_path_factory.mktemp("paper-slurm")
    proc = snakemake("-n", "--workflow-profile", str(SLURM_PROFILE),
                     "--configfile", str(ROOT / "config" / "paper.yaml"), workdir=work)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return planned_jobs(proc.stdout + proc.stderr)


def _of(jobs: list[PlannedJob], rule: str) -> list[PlannedJob]:
    return [j for j in jobs if j.rule == rule]


def test_paper_training_asks_slurm_for_gpus_cpus_memory_and_time(paper_on_slurm):
    train = _of(paper_on_slurm, "train")
    assert len(train) == len(PAPER["caps"])
    want = PROFILE["set-resources"]["train"]
    for job in train:
        assert job.group is None                # one sbatch per model
        assert int(job.resources["gpu"]) == PAPER["train"]["gpus"] >= 1   # sbatch --gpus
        assert job.threads == PROFILE["set-threads"]["train"]              # --cpus-per-task
        assert int(job.resources["mem_mb"]) == want["mem_mb"]
        assert int(job.resources["runtime"]) == want["runtime"]


def test_a_caps_gpus_override_reaches_its_training_job_alone(tmp_path):
    """train_overrides may give one cap its own gpus: that cap's job asks for them (and
    trains with that many processes, the same expression), the others keep train.gpus."""
    first, *rest = [str(c) for c in PAPER["caps"]]
    cfg = {**PAPER, "train_overrides": {first: {"gpus": 2}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "--workflow-profile", str(SLURM_PROFILE), "--configfile", str(path), workdir=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    gpus = {job.wildcards["cap"]: int(job.resources["gpu"]) for job in _of(planned_jobs(proc.stdout + proc.stderr), "train")}
    assert gpus == {first: 2, **{cap: PAPER["train"]["gpus"] for cap in rest}}


def test_paper_evaluation_shards_are_grouped_and_share_one_gpu(paper_on_slurm):
    shards = _of(paper_on_slurm, "evaluate")
    per_group = PROFILE["group-components"]["eval"]
    assert len(shards) == len(PAPER["caps"]) * len(PAPER["evaluate"]["temperatures"]) * len(PAPER["evaluate"]["opponents"])
    assert all(s.group is not None and s.group_name == "eval" for s in shards)
    sizes: dict[int, int] = {}
    for s in shards:
        sizes[s.group] = sizes.get(s.group, 0) + 1
    assert max(sizes.values()) <= per_group
    assert len(sizes) == math.ceil(len(shards) / per_group)   # 9 submissions, not 72
    for s in shards:
        assert s.resources["gres"] == "gpu:1" and int(s.resources["gpu"]) == 0
        assert s.threads == PROFILE["set-threads"]["evaluate"]
        assert int(s.resources["mem_mb"]) == PROFILE["set-resources"]["evaluate"]["mem_mb"]


def test_paper_months_are_downloaded_and_filtered_in_one_job_each(paper_on_slurm):
    downloads, filters = _of(paper_on_slurm, "download_month"), _of(paper_on_slurm, "filter_dump")
    assert len(downloads) == len(filters) == len(PAPER["lichess"]["months"])
    by_group = {d.group: d.wildcards["month"] for d in downloads}
    assert len(by_group) == len(downloads) and None not in by_group
    for f in filters:
        assert f.group_name == "dump" and by_group[f.group] == f.wildcards["dump"]
    for d in downloads:
        assert int(d.resources["mem_mb"]) == PROFILE["set-resources"]["download_month"]["mem_mb"]
        assert int(d.resources["runtime"]) == PROFILE["set-resources"]["download_month"]["runtime"]


def test_default_profile_applies_to_plain_runs(tmp_path):
    """A plain `snakemake` in the repository finds workflow/profiles/default (via profiles/)."""
    assert (ROOT / "profiles" / "default").resolve() == DEFAULT_PROFILE.resolve()
    proc = snakemake("-n", "--cores", "2", "--configfile", str(SMOKE), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Using workflow specific profile" in out and "profiles/default" in out
    threads = dict(t.split("=") for t in yaml.safe_load((DEFAULT_PROFILE / "config.yaml").read_text())["set-threads"])
    assert int(threads["train"]) >= 1
    train = _of(planned_jobs(out), "train")
    assert train and all(j.threads == min(int(threads["train"]), 2) for j in train)   # the profile's, scaled to --cores


def test_rules_carry_no_compute_numbers():
    """Threads, memory and run time are set in profiles (or config), never as numbers in rules.

    (`threads: 1` is Snakemake's default, the same as saying nothing, so it passes.)
    """
    literal = re.compile(r"^\s+(threads:\s*(?!1\s*$)\d|(mem_mb|mem|runtime|disk_mb)\s*=\s*\d)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "workflow" / "rules").glob("*.smk")
                 if literal.search(p.read_text())]
    assert not offenders, offenders


# --- a real SLURM cluster on this machine (opt-in) -------------------------------------------

needs_slurm = pytest.mark.skipif(
    os.environ.get("TRANSCENDENCE_SLURM_TEST") != "1",
    reason="opt-in: TRANSCENDENCE_SLURM_TEST=1 brings up SLURM here (root, apt-get; minutes)",
)


@pytest.fixture(scope="module")
def local_slurm():
    """A running single-node cluster; stopped afterwards if this fixture started it."""
    was_running = shutil.which("slurmctld") is not None and subprocess.run(
        ["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(SETUP), "start"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield
    if not was_running:
        subprocess.run(["bash", str(SETUP), "stop"], capture_output=True, timeout=120)


def _jobcomp() -> str:
    state = Path(os.environ.get("TRANSCENDENCE_SLURM_STATE", "/tmp/transcendence-slurm"))
    return (state / "jobcomp.log").read_text()


@pytest.mark.slow
@needs_slurm
def test_smoke_config_runs_to_completion_through_slurm(local_slurm, tmp_path):
    cpus = str(os.cpu_count() or 1)   # no job may ask for more CPUs than the one node has
    proc = snakemake(
        "--workflow-profile", str(SLURM_PROFILE), "--configfile", str(SMOKE), "--cores", cpus,
        # No accounting database on this cluster: status from squeue (MinJobAge is an hour),
        # polled from the first second.
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
        "--slurm-keep-successful-logs",
        workdir=tmp_path, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # Every job went through sbatch, and SLURM recorded each one as completed.
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", out)
    ids = {i for i, _ in submitted}
    records = [line for line in _jobcomp().splitlines() if f"Name={run_id} " in line]
    completed = {re.search(r"JobId=(\d+)", r).group(1) for r in records if "JobState=COMPLETED" in r}
    assert ids and ids == completed, (ids, records)
    stats = re.search(r"Job stats:\n(.*?)\n\n", out, re.S).group(1)
    assert "train" in stats and "evaluate" in stats

    # Small jobs went in groups: one submission per synthetic shard (generate + filter) and
    # one for all evaluation shards, which asked SLURM for the GPU they share.
    logs = [Path(log) for _, log in submitted]
    eval_groups = [(i, log) for i, log in submitted if "/group_eval" in log]
    smoke = yaml.safe_load(SMOKE.read_text())
    shards = len(smoke["caps"]) * len(smoke["evaluate"]["temperatures"]) * len(smoke["evaluate"]["opponents"])
    assert len(eval_groups) == math.ceil(shards / PROFILE["group-components"]["eval"])
    assert sum("/group_dump" in str(p) for p in logs) == smoke["synthetic"]["shards"]
    assert sum("/rule_train/" in str(p) for p in logs) == len(smoke["caps"])
    job = subprocess.run(["scontrol", "show", "job", eval_groups[0][0]], capture_output=True, text=True)
    assert "gpu:1" in job.stdout, job.stdout
    # Its time limit is that of its shards played as far side by side as the CPUs allow.
    threads = min(PROFILE["set-threads"]["evaluate"], int(cpus))
    rounds = math.ceil(min(shards, PROFILE["group-components"]["eval"]) / (int(cpus) // threads))
    hours, minutes, _ = re.search(r"TimeLimit=(\d+):(\d+):(\d+)", job.stdout).groups()
    assert int(hours) * 60 + int(minutes) == rounds * PROFILE["set-resources"]["evaluate"]["runtime"]

    # Everything the study promises is there: a second (local) dry run finds nothing to do.
    for target in ["results/summary/ratings.csv", "results/figures/figure1.png",
                   *(f"results/models/cap{c}/model.pt" for c in smoke["caps"])]:
        assert (tmp_path / target).stat().st_size > 0, target
    again = snakemake("-n", "--configfile", str(SMOKE), workdir=tmp_path)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]

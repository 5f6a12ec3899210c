"""Provenance with DVC, audited in a temporary git repository with real git, DVC and Snakemake.

One study per module: the project's files in a fresh git repository, dvc.yaml generated for
config/smoke.yaml, the main command (`make reproduce`) run once. The tests below then audit
it, push it and pull it into a clone, and change it (one cap's training, then the rating
anchors). The changes are module fixtures that build on each other, not test bodies, so each
test passes alone and in any order; every step leaves the study committed and up to date.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from transcendence.provenance import dvc_stages

from .conftest import ROOT, copy_repository

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SMOKE = "config/smoke.yaml"
CAPS = [str(c) for c in yaml.safe_load((ROOT / SMOKE).read_text())["caps"]]
CHANGED_CAP, OTHER_CAPS = CAPS[0], CAPS[1:]
# Files a job writes that are no result: Snakemake's timings, the resumable training state,
# DVCLive's summary beside the curves (the checkpoint's metrics.json is the tracked one),
# the cache of engine evaluations shared by jobs, the jobs' logs (they hold timings: a forced
# re-run of the same work rewrites them, so no stage declares them).
BY_PRODUCTS = re.compile(
    r"^results/(benchmarks/.*|cache/.*|logs/.*|README\.md|models/cap\d+/(train_state\.pt|timing\.json|dvclive/metrics\.json))$")
RATINGS = "results/summary/ratings.json"


def sh(*cmd: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with the project's tools first on PATH; fail the test if it fails."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    base |= {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GIT_AUTHOR_NAME": "test",
             "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_NAME": "test",
             "GIT_COMMITTER_EMAIL": "test@example.org"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1200, env=base | (env or {}))
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def make(repo: Path, *targets: str) -> subprocess.CompletedProcess:
    """The project's Makefile with the test's environment (no set-up: .venv is this one)."""
    return sh("make", "-o", "setup", f"BIN={BIN}", f"CONFIG={SMOKE}", *targets, cwd=repo)


def commit(repo: Path, message: str) -> str:
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", message, cwd=repo)
    return sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def stage_of(dvc_yaml: dict) -> dict[str, str]:
    """Each declared output (outs, metrics, plots) -> its stage."""
    owner = {}
    for name, stage in dvc_yaml["stages"].items():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                owner[entry if isinstance(entry, str) else next(iter(entry))] = name
    return owner


def stages_of_jobs(log: str, dvc_yaml: dict) -> set[str]:
    """The DVC stages of the jobs a Snakemake log (a run or a dry run) lists."""
    owner = stage_of(dvc_yaml)
    if not re.search(r"^(local)?rule \w+:$", log, re.M):
        return set()
    return {owner[job.outputs[0]] for job in dvc_stages.parse_dry_run(log) if job.outputs}


def downstream(repo: Path, stage: str) -> set[str]:
    """The stage and everything after it in DVC's own graph (`dvc dag --dot`)."""
    edges = re.findall(r'"([^"]+)" -> "([^"]+)"', sh("dvc", "dag", "--dot", cwd=repo).stdout)
    found, todo = {stage}, [stage]
    while todo:
        here = todo.pop()
        for a, b in edges:
            if a == here and b not in found:
                found.add(b)
                todo.append(b)
    return found


def numbers(path: Path, prefix: str = "") -> dict[str, float]:
    """A metrics file's numeric leaves, flattened with dots as DVC names them."""
    def walk(value, key):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield key, value
    return dict(walk(json.loads(path.read_text()), prefix))


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    """A git repository of the project where `make reproduce` ran on the smoke config."""
    # What a fresh clone holds, whatever the user's working tree has (a dvc.lock or results
    # from `make reproduce` there would be another configuration's).
    repo = copy_repository(tmp_path_factory.mktemp("provenance") / "study")
    sh("git", "init", "-q", cwd=repo)
    make(repo, "dvc.yaml")
    commit(repo, "the study, dvc.yaml for the smoke config")
    make(repo, "reproduce")
    baseline = commit(repo, "first run: dvc.lock")
    metrics = {p: numbers(repo / p) for p in stage_of(yaml.safe_load((repo / "dvc.yaml").read_text()))
               if p.endswith(".json") and (repo / p).is_file()}
    return {"repo": repo, "baseline": baseline, "metrics": metrics}


def test_dvc_yaml_is_generated_from_the_workflow(tmp_path):
    """The committed dvc.yaml is what the workflow says for config/config.yaml, to the byte."""
    dry = subprocess.run([str(BIN / "snakemake"), "--dry-run", "--forceall", "--configfile", "config/config.yaml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    (tmp_path / "dry.txt").write_text(dry.stdout)
    dvc_stages.main(["--configfile", "config/config.yaml", "--dry-run", str(tmp_path / "dry.txt"),
                     "--snakefile", str(ROOT / "Snakefile"), "--output", str(tmp_path / "dvc.yaml")])
    assert (tmp_path / "dvc.yaml").read_text() == (ROOT / "dvc.yaml").read_text(), \
        "dvc.yaml differs from the Snakemake workflow: run `make dvc.yaml` and commit it"


def test_every_result_is_a_dvc_output(study):
    repo = study["repo"]
    declared = stage_of(yaml.safe_load((repo / "dvc.yaml").read_text()))
    made = [p.relative_to(repo).as_posix() for p in (repo / "results").rglob("*") if p.is_file()]
    unaccounted = [p for p in made if not BY_PRODUCTS.match(p)
                   and not any(p == d or p.startswith(d + "/") for d in declared)]
    assert made and not unaccounted, unaccounted


def test_after_the_main_command_nothing_is_out_of_date(study):
    repo = study["repo"]
    assert json.loads(sh("dvc", "status", "--json", cwd=repo).stdout) == {}
    assert "Nothing to be done" in sh("snakemake", "-n", "--configfile", SMOKE, cwd=repo).stdout


def test_lock_records_hash_code_and_params_of_every_dataset_and_checkpoint(study):
    repo = study["repo"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    smoke = yaml.safe_load((repo / SMOKE).read_text())

    def entries(stage, kind):
        return {e["path"]: e for e in lock[stage][kind]}

    def check_hashes(items):
        for path, entry in items.items():
            assert entry["md5"] == md5(repo / path), path

    for dump in [o for o in entries("synthetic_games", "outs") if o.endswith(".pgn.zst")]:
        check_hashes({dump: entries("synthetic_games", "outs")[dump]})
    for cap in CAPS:
        data, train, evaluate = (entries(f"{s}-cap{cap}", "outs") for s in ("dataset", "train", "evaluate"))
        datasets = {p: e for p, e in data.items() if p.endswith(".bin")}
        checkpoint = f"results/models/cap{cap}/model.pt"
        assert len(datasets) == 2 and checkpoint in train and evaluate
        check_hashes(datasets | {checkpoint: train[checkpoint]})
        for stage, code in [(f"dataset-cap{cap}", "data/packing.py"), (f"train-cap{cap}", "training/train.py")]:
            deps = entries(stage, "deps")
            script = f"workflow/scripts/{stage.split('-')[0]}.py"
            check_hashes({p: deps[p] for p in (script, f"src/transcendence/{code}")})
        # The checkpoint was trained on these datasets and evaluated as this very file.
        train_deps = entries(f"train-cap{cap}", "deps")
        assert {p: train_deps[p]["md5"] for p in datasets} == {p: e["md5"] for p, e in datasets.items()}
        assert entries(f"evaluate-cap{cap}", "deps")[checkpoint]["md5"] == train[checkpoint]["md5"]
        params = lock[f"train-cap{cap}"]["params"][SMOKE]
        assert params["train"] == smoke["train"] and params["model"] == smoke["model"]
        assert params["seed"] == smoke["seed"]
        assert lock[f"dataset-cap{cap}"]["params"][SMOKE]["model.block_size"] == smoke["model"]["block_size"]


def test_analytics_and_update_checks_are_off(study):
    repo = study["repo"]
    config = configparser.ConfigParser()
    config.read(repo / ".dvc" / "config")
    assert config["core"]["analytics"] == "false" and config["core"]["check_update"] == "false"
    assert config["studio"]["offline"] == "true"
    env = {"CI": ""}  # CI would skip the update check before DVC reads its config
    status, version = (sh("dvc", cmd, "-v", cwd=repo, env=env) for cmd in ("status", "version"))
    assert "Analytics is disabled." in status.stdout + status.stderr
    assert "Check for update is disabled." in version.stdout + version.stderr


def test_push_and_pull_into_a_fresh_clone_restores_results_with_nothing_to_rerun(study, tmp_path):
    repo, remote, clone = study["repo"], tmp_path / "remote", tmp_path / "clone"
    sh("dvc", "remote", "add", "--local", "-d", "store", str(remote), cwd=repo)
    sh("dvc", "push", cwd=repo)
    sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    sh("dvc", "remote", "add", "--local", "-d", "store", str(remote), cwd=clone)
    sh("dvc", "pull", cwd=clone)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for stage in lock.values():
        for out in stage.get("outs", []):
            if out["md5"].endswith(".dir"):  # a directory (DVCLive's curves)
                assert any((clone / out["path"]).iterdir()), out["path"]
            else:
                assert md5(clone / out["path"]) == out["md5"], out["path"]
    # Pulled files carry the time they were written, not the order they were made in, and
    # Snakemake has no record of them: a checkpoint older than its dataset gets re-trained.
    os.utime(clone / f"results/models/cap{CHANGED_CAP}/model.pt", (946684800, 946684800))
    plan = dvc_stages.parse_dry_run(sh("snakemake", "-n", "--configfile", SMOKE, cwd=clone).stdout)
    assert f"results/models/cap{CHANGED_CAP}/model.pt" in [o for job in plan for o in job.outputs]
    make(clone, "restore")
    assert "Nothing to be done" in sh("snakemake", "-n", "--configfile", SMOKE, cwd=clone).stdout
    assert json.loads(sh("dvc", "status", "--json", cwd=clone).stdout) == {}
    assert md5(clone / f"results/models/cap{CHANGED_CAP}/model.pt") == md5(repo / f"results/models/cap{CHANGED_CAP}/model.pt")


@pytest.fixture(scope="module")
def cap_retrained(study) -> dict:
    """The study after one cap's training changed (half its learning rate), re-run, committed.

    A fixture rather than a test's body, so that what builds on this change (the anchors change
    and its diff against the baseline) gets it in whatever order, or alone, its tests run; the
    fixture records what the test then checks. Every step leaves the repository committed
    with `dvc status` clean, so the audits of the study hold before and after it.
    """
    repo = study["repo"]
    smoke = repo / SMOKE
    text = smoke.read_text()
    assert "train_overrides: {}\n" in text
    lr = yaml.safe_load(text)["train"]["learning_rate"]
    smoke.write_text(text.replace("train_overrides: {}\n",
                                  f'train_overrides: {{"{CHANGED_CAP}": {{learning_rate: {lr / 2}}}}}\n'))
    make(repo, "dvc.yaml")  # the stage now reads train_overrides.<cap>
    commit(repo, f"cap {CHANGED_CAP}: half the learning rate")
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    status = json.loads(sh("dvc", "status", "--json", cwd=repo).stdout)
    dry_run = sh("snakemake", "-n", "--configfile", SMOKE, cwd=repo).stdout
    record = {"status": status, "dry_run": dry_run, "dvc_yaml": dvc_yaml,
              "downstream": downstream(repo, f"train-cap{CHANGED_CAP}")}
    before = {c: md5(repo / f"results/models/cap{c}/model.pt") for c in CAPS}
    run = make(repo, "reproduce")
    record |= {
        "ran": stages_of_jobs(run.stdout + run.stderr, dvc_yaml),
        "before": before, "after": {c: md5(repo / f"results/models/cap{c}/model.pt") for c in CAPS},
        "status_after": json.loads(sh("dvc", "status", "--json", cwd=repo).stdout),
        "dry_run_after": sh("snakemake", "-n", "--configfile", SMOKE, cwd=repo).stdout,
    }
    commit(repo, f"cap {CHANGED_CAP} re-trained: dvc.lock")
    return record


@pytest.fixture(scope="module")
def anchors_changed(study, cap_retrained) -> dict:
    """The study after the rating anchors changed too (on top of :func:`cap_retrained`, so
    the diff against the baseline holds a training parameter and a rating parameter)."""
    repo = study["repo"]
    smoke = repo / SMOKE
    anchors = yaml.safe_load(smoke.read_text())["rating"]["anchors"]
    other = {"calibrated": "configured", "configured": "calibrated"}[anchors]
    smoke.write_text(smoke.read_text().replace(f"anchors: {anchors}", f"anchors: {other}"))
    make(repo, "dvc.yaml", "reproduce")
    head = commit(repo, f"rate against {other} anchors")
    return {"old": anchors, "new": other, "head": head, "ratings": numbers(repo / RATINGS)}


def test_one_caps_training_change_reruns_that_cap_only(cap_retrained):
    changes = cap_retrained
    assert set(changes["status"]) == {f"train-cap{CHANGED_CAP}"}, changes["status"]
    # Snakemake's reasons name the same job (`--list-changes params` lists every output in
    # Snakemake 9.27: it reports files whose params did not change too).
    changed = [job.outputs for job in dvc_stages.parse_dry_run(changes["dry_run"])
               if "Params have changed" in job.reason]
    assert changed == [[f"results/models/cap{CHANGED_CAP}/{f}" for f in ("model.pt", "metrics.json")]], changed
    plan = stages_of_jobs(changes["dry_run"], changes["dvc_yaml"])
    assert plan == changes["downstream"]
    assert not {s for s in plan if any(s.endswith(f"-cap{c}") for c in OTHER_CAPS)}

    assert changes["ran"] == plan
    before, after = changes["before"], changes["after"]
    assert after[CHANGED_CAP] != before[CHANGED_CAP]
    assert all(after[c] == before[c] for c in OTHER_CAPS)
    assert changes["status_after"] == {}
    assert "Nothing to be done" in changes["dry_run_after"]


def test_params_and_metrics_diff_between_commits(study, anchors_changed):
    repo, baseline, head = study["repo"], study["baseline"], anchors_changed["head"]
    anchors, other = anchors_changed["old"], anchors_changed["new"]

    params = json.loads(sh("dvc", "params", "diff", baseline, head, "--json", cwd=repo).stdout)
    changed = params[SMOKE]
    assert changed["rating.anchors"] == {"old": anchors, "new": other}
    assert any(k.startswith(f"train_overrides.{CHANGED_CAP}") for k in changed), changed
    assert set(params) == {SMOKE}

    diff = json.loads(sh("dvc", "metrics", "diff", baseline, head, "--json", cwd=repo).stdout)
    old, new = study["metrics"][RATINGS], anchors_changed["ratings"]
    moved = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert moved, "the anchors changed no rating"
    for key in moved:
        assert diff[RATINGS][key]["old"] == old[key] and diff[RATINGS][key]["new"] == new[key], key
    loss = "final_train_loss"
    trained = f"results/models/cap{CHANGED_CAP}/metrics.json"
    assert diff[trained][loss]["old"] == study["metrics"][trained][loss] != diff[trained][loss]["new"]
    for cap in OTHER_CAPS:
        assert f"results/models/cap{cap}/metrics.json" not in diff
    assert not [p for p in diff if p.startswith("results/datasets/")]

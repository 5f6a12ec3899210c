"""The README's commands, as written, from the root of a fresh copy of the repository.

Every command in the README's code blocks is listed in ``HOW`` with the way it is exercised,
and a test fails when the README has a command that is not listed (or the list one the README
no longer has): a changed command must be exercised again. The commands run by bash from the
root of a copy of the repository (``copy_repository``: what a fresh clone has, never the
user's results), with the repository's own profiles:

- ``run``: as written, in a copy of the smoke run (tests/conftest.py: `make reproduce` in a
  fresh copy whose embedded default, config/config.yaml, holds the smoke configuration);
- ``dry``: what needs Lichess, a GPU or a cluster, as written plus ``-n`` (``make -n``);
- ``remote-setup``: `dvc remote add`, as written in a fresh git clone (no network needed);
- ``elsewhere``: what needs a DVC remote store or a cluster run to exist, named with the test
  that runs the same thing on a local remote; and `make test`, which is this suite.

And for every file in config/, a dry run as the README says (`snakemake -n`, or with
``--configfile config/<file>``) must run that file's content exactly, key for key: the
Snakefile logs the sha256 of the validated configuration, which must be the file's.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import chess
import pytest
import yaml

from .conftest import ROOT, copy_repository, shell

README = ROOT / "README.md"
CONFIGS = sorted(p.name for p in (ROOT / "config").glob("*.yaml"))
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
PROVENANCE = "tests/test_provenance.py::test_push_and_pull_into_a_fresh_clone_restores_results_with_nothing_to_rerun"

# How each command of the README's code blocks is exercised (see the module's docstring).
HOW = {
    "make reproduce": "run",
    "make test": "elsewhere: this test suite (CI runs `make test`)",
    "make report": "run",
    ".venv/bin/transcendence status": "run",
    ".venv/bin/transcendence uci --model results/models/cap400/model.pt": "run",
    "snakemake -n": "run",
    "snakemake --cores all --configfile config/paper.yaml": "dry",
    "snakemake --cores all --until train": "run",
    "snakemake --cores all results/models/cap400/model.pt": "run",
    "snakemake --cores all results/eval/cap400/T0.001/eps0.5.csv": "run",
    "snakemake --cores all --forcerun figure1": "run",
    "snakemake --lint": "run",
    "dvc remote add -d store s3://BUCKET/transcendence": "remote-setup",
    "dvc remote add -d store gs://BUCKET/transcendence": "remote-setup",
    "dvc remote add -d store ssh://USER@HOST/srv/dvc/transcendence": "remote-setup",
    "dvc remote add -d store /mnt/shared/dvc": "remote-setup",
    'git commit .dvc/config -m "DVC remote" && dvc push': f"elsewhere: needs the remote store; {PROVENANCE}",
    "make restore": f"elsewhere: needs a remote holding results; {PROVENANCE}",
    "snakemake --workflow-profile workflow/profiles/slurm --configfile config/paper.yaml -n": "dry",
    "snakemake --workflow-profile workflow/profiles/slurm --configfile config/paper.yaml "
    "--default-resources slurm_account=ACCOUNT slurm_partition=PARTITION runtime=60 mem_mb=2000": "dry",
    "make dvc.yaml CONFIG=config/paper.yaml": "run",
    "dvc commit -f && dvc push": "elsewhere: needs a paper run on a cluster and a remote; " + PROVENANCE,
    'git commit dvc.yaml dvc.lock -m "Paper run" && git push': "elsewhere: needs a paper run and a git remote",
    "make restore CONFIG=config/paper.yaml": "dry",
    "make reproduce CONFIG=config/smoke-sweep.yaml": "elsewhere: the smoke sweep's run, "
    "tests/test_sweep.py::test_sweep_runs_each_condition_under_its_own_folder",
    "snakemake -n --configfile config/smoke-sweep.yaml": "dry",
    "make report CONFIG=config/smoke-sweep.yaml": "elsewhere: tests/test_sweep.py::test_the_sweeps_report_holds_its_summary",
    "make reproduce CONFIG=config/diversity.yaml": "elsewhere: an hour on 2 cores; its mechanism at smoke size is "
    "tests/test_sweep.py::test_sweep_runs_each_condition_under_its_own_folder, its conditions checked by "
    "tests/test_config.py",
    "make reproduce CONFIG=config/seeds.yaml": "elsewhere: five of the default's cap-400 runs on 2 cores; its "
    "mechanism at smoke size is tests/test_sweep.py::test_sweep_runs_each_condition_under_its_own_folder, its "
    "conditions (a replicate sweep) tests/test_sweep.py::test_a_sweep_whose_conditions_differ_in_seed_alone_is_a_"
    "replicate_sweep, its dry run test_each_config_file_is_exactly_what_runs",
    "make reproduce CONFIG=config/openings.yaml": "elsewhere: two of the default's cap-400 runs on 2 cores; its "
    "suites are played by tests/test_openings.py and tests/test_evaluate.py (real shards), its dry run "
    "test_each_config_file_is_exactly_what_runs",
}


def readme_commands(text: str) -> list[str]:
    """Each command line of the shell code blocks: continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"^```(?:sh|bash|shell)?\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(re.sub(r"(^|\s)#.*$", "", line).split())
            if command:
                commands.append(command)
    return commands


def as_dry_run(command: str) -> str:
    if command.startswith("make "):
        return "make -n " + command.removeprefix("make ")
    return command if re.search(r"(^| )(-n|--dry-run)( |$)", command) else command + " -n"


def config_hash(config: dict) -> str:
    """What the Snakefile logs: sha256 of the configuration's JSON, keys sorted."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def configuration_line(out: str) -> tuple[str, str]:
    """The Snakefile's start-up line: which configuration runs, and its hash."""
    found = re.findall(r"^Configuration: (.+) \(sha256 ([0-9a-f]{64})\)$", out, re.M)
    assert found, f"no `Configuration:` line in the output:\n{out[-3000:]}"
    return found[0]


def run(command: str, cwd: Path) -> str:
    """Run a README command as written; fail the test unless it succeeds. Returns its output."""
    proc = shell(command, cwd=cwd)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"`{command}` failed ({proc.returncode}):\n{out[-5000:]}"
    return out


def job_counts(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_every_readme_command_is_exercised():
    commands = readme_commands(README.read_text())
    assert "make reproduce" in commands and "snakemake -n" in commands  # the parser finds them
    unlisted = [c for c in commands if c not in HOW]
    gone = [c for c in HOW if c not in commands]
    assert not unlisted, f"README commands no test exercises (add them to HOW): {unlisted}"
    assert not gone, f"HOW lists commands the README no longer has: {gone}"


def test_the_two_commands_are_the_two_commands():
    section = README.read_text().split("## Two commands")[1].split("\n## ")[0]
    assert readme_commands("\n" + section.split("\n", 1)[1]) == ["make reproduce", "make test"]


# --- each config file is what runs ------------------------------------------------------------

@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("clone") / "repo")


@pytest.mark.parametrize("name", CONFIGS)
def test_each_config_file_is_exactly_what_runs(fresh_clone, name):
    """A dry run as the README gives it runs the file's content, nothing merged into it."""
    command = "snakemake -n" if name == "config.yaml" else f"snakemake -n --configfile config/{name}"
    out = run(command, fresh_clone)
    source, digest = configuration_line(out)
    assert source == f"config/{name}"
    content = yaml.safe_load((fresh_clone / "config" / name).read_text())
    assert digest == config_hash(content), (
        f"`{command}` ran a configuration other than config/{name}'s content "
        f"(keys merged in from another file?)")


def test_a_config_given_on_the_command_line_goes_on_top_of_the_file(fresh_clone):
    out = run("snakemake -n --configfile config/paper.yaml --config seed=3", fresh_clone)
    source, digest = configuration_line(out)
    assert source == "config/paper.yaml with --config on top"
    assert digest == config_hash({**PAPER, "seed": 3})


def test_a_copy_holds_what_a_clone_holds_and_none_of_the_users_results(tmp_path):
    """What the smoke and provenance runs start from: never a dvc.lock or results of the user's."""
    user = tmp_path / "user"
    for name in ("Snakefile", "results/README.md", "src/new_module.py", "dvc.lock", "results/summary/ratings.csv",
                 ".snakemake/metadata/x", "notes.log"):
        (user / name).parent.mkdir(parents=True, exist_ok=True)
        (user / name).write_text(name)
    (user / ".gitignore").write_text("/results/*\n!/results/README.md\n.snakemake/\n*.log\n")
    (user / "profiles").symlink_to("workflow/profiles")
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    subprocess.run(["git", "add", "Snakefile", "results/README.md", ".gitignore", "profiles"], cwd=user, check=True)
    copy = copy_repository(tmp_path / "copy", source=user)
    held = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file() or p.is_symlink())
    assert held == [".gitignore", "Snakefile", "profiles", "results/README.md", "src/new_module.py"]
    assert os.readlink(copy / "profiles") == "workflow/profiles"


def test_make_clean_keeps_the_tracked_results_readme(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    assert (repo / "results" / "README.md").is_file()
    (repo / "results" / "models").mkdir()
    (repo / "results" / "models" / "model.pt").write_bytes(b"x")
    (repo / ".snakemake").mkdir()
    run("make clean", repo)
    assert sorted(p.name for p in (repo / "results").iterdir()) == ["README.md"]
    assert not (repo / ".snakemake").exists()


# --- the commands, in a fresh copy after `make reproduce` ----------------------------------------

@pytest.fixture(scope="module")
def used(smoke_run, tmp_path_factory) -> Path:
    """A copy of the smoke run's repository (results and Snakemake's records included)."""
    repo = tmp_path_factory.mktemp("readme") / "repo"
    shutil.copytree(smoke_run, repo, symlinks=True)
    return repo


@pytest.mark.slow
def test_make_reproduce_again_has_nothing_to_do(used):
    out = run("make reproduce", used)
    assert "Nothing to be done" in out
    assert configuration_line(out)[1] == config_hash(yaml.safe_load((used / "config/config.yaml").read_text()))


@pytest.mark.slow
def test_dry_run_after_reproduce_plans_nothing(used):
    out = run("snakemake -n", used)
    assert "Nothing to be done" in out
    assert configuration_line(out)[0] == "config/config.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["snakemake --cores all --until train",
                                     "snakemake --cores all results/models/cap400/model.pt"])
def test_targets_already_made_are_not_remade(used, command):
    model = used / "results/models/cap400/model.pt"
    before = model.stat().st_mtime_ns
    assert "Nothing to be done" in run(command, used)
    assert model.stat().st_mtime_ns == before


@pytest.mark.slow
def test_one_evaluation_shard(used):
    shard = used / "results/eval/cap400/T0.001/eps0.5.csv"
    assert not shard.exists()  # T = 0.001 is not one of the smoke run's temperatures
    out = run("snakemake --cores all results/eval/cap400/T0.001/eps0.5.csv", used)
    assert job_counts(out) == {"evaluate": 1, "total": 1}
    rows = shard.read_text().splitlines()
    assert len(rows) == 1 + yaml.safe_load((used / "config/config.yaml").read_text())["evaluate"]["games"]


@pytest.mark.slow
def test_forcerun_redraws_one_stage(used):
    figure = used / "results/figures/figure1.png"
    before = figure.stat().st_mtime_ns
    out = run("snakemake --cores all --forcerun figure1", used)
    assert set(job_counts(out)) == {"figure1", "all", "total"}
    assert figure.stat().st_mtime_ns > before


@pytest.mark.slow
def test_lint(used):
    assert "Lints for" not in run("snakemake --lint", used)


@pytest.mark.slow
def test_make_report_writes_one_self_contained_html(used):
    run("make report", used)
    html = (used / "results/report.html").read_text(errors="replace")
    for section in ("Figure 1", "Diagnostics", "Ratings", "Favor analysis", "t-SNE", "Theory",
                    "Data diversity", "Board example"):
        assert section in html, section
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)  # nothing fetched


@pytest.mark.slow
def test_transcendence_status_shows_results_ratings_and_verdicts(used):
    out = run(".venv/bin/transcendence status", used)
    config = yaml.safe_load((used / "config/config.yaml").read_text())
    shards = len(config["caps"]) * len(config["evaluate"]["temperatures"]) * len(config["evaluate"]["opponents"])
    assert re.search(rf"^  models +{len(config['caps'])}/{len(config['caps'])}$", out, re.M), out
    assert re.search(rf"^  evaluation shards +{shards}/{shards}$", out, re.M), out
    rows = re.findall(r"^ +(\d+) +([\d.e-]+) +-?\d+ +\[.*\] .* (transcends|inconclusive|below)$", out, re.M)
    assert sorted((int(c), float(t)) for c, t, _ in rows) == \
        sorted((c, float(t)) for c in config["caps"] for t in config["evaluate"]["temperatures"])
    for cap in config["caps"]:
        assert re.search(rf"^  cap {cap}: .* of {len(config['evaluate']['temperatures'])} temperatures", out, re.M)


@pytest.mark.slow
def test_transcendence_uci_plays_the_smoke_runs_model(used):
    """The README's engine command on the smoke run's trained model, a short UCI session piped in
    (python-chess and polyglot drive it for whole games in tests/test_uci.py)."""
    command = ".venv/bin/transcendence uci --model results/models/cap400/model.pt"
    assert command in HOW
    out = run(f"printf 'uci\\nisready\\nposition startpos moves e2e4\\ngo movetime 100\\nquit\\n' | {command}", used)
    assert re.search(r"^id name transcendence \S+-cap400 ", out, re.M) and "\nuciok\n" in out and "\nreadyok\n" in out
    move = re.findall(r"^bestmove (\S+)$", out, re.M)
    board = chess.Board()
    board.push_uci("e2e4")
    assert len(move) == 1 and chess.Move.from_uci(move[0]) in board.legal_moves, out


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, how in HOW.items() if how == "dry"])
def test_what_needs_lichess_a_gpu_or_a_cluster_dry_runs(used, command):
    out = run(as_dry_run(command), used)
    if command.startswith("make"):
        return  # make -n: the target exists and its commands expand
    sweep = re.search(r"--configfile (config/\S*sweep\S*\.yaml)", command)
    if sweep:  # a sweep: its file runs, every condition's study and the summary are planned
        config = yaml.safe_load((ROOT / sweep.group(1)).read_text())
        assert configuration_line(out)[0] == sweep.group(1)
        counts = job_counts(out)
        assert counts["sweep_summary"] == 1
        assert all(counts[f"{c}_ratings"] == 1 for c in config["sweep"]["conditions"]), counts
        return
    assert configuration_line(out) == ("config/paper.yaml", config_hash(PAPER))
    counts = job_counts(out)
    assert counts["download_month"] == len(PAPER["lichess"]["months"])
    assert counts["evaluate"] == len(PAPER["caps"]) * len(PAPER["evaluate"]["temperatures"]) * \
        len(PAPER["evaluate"]["opponents"])
    if "slurm" in command:
        assert "Using workflow specific profile workflow/profiles/slurm" in out


@pytest.mark.slow
def test_dvc_yaml_for_the_paper(used):
    run("make dvc.yaml CONFIG=config/paper.yaml", used)
    stages = yaml.safe_load((used / "dvc.yaml").read_text())["stages"]
    assert {f"train-cap{c}" for c in PAPER["caps"]} <= set(stages)
    assert "--configfile config/paper.yaml" in stages[f"train-cap{PAPER['caps'][0]}"]["cmd"]


def test_dvc_remotes_can_be_added_as_written(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    committed = (repo / ".dvc" / "config").read_text()
    for command in [c for c, how in HOW.items() if how == "remote-setup"]:
        run(command, repo)
        config = configparser.ConfigParser()
        config.read(repo / ".dvc" / "config")
        store = config["'remote \"store\"'"]  # DVC writes the section as ['remote "store"']
        assert store["url"] == command.split()[-1] and config["core"]["remote"] == "store"
        (repo / ".dvc" / "config").write_text(committed)  # the next one is an alternative to this one


def test_protocol_document_holds_the_published_numbers_paper_yaml_uses():
    """docs/PROTOCOL.md is what code and configs cite for the paper's protocol: its Figure 1
    table, Table 1 and diversity means are the references config/paper.yaml draws, and no
    file cites the study notes that are not in the repository."""
    text = (ROOT / "docs" / "PROTOCOL.md").read_text()
    table = {float(m[1]): [int(m[2]), int(m[3]), int(m[4])]
             for m in re.finditer(r"^\| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)}
    reference = PAPER["rating"]["reference"]
    assert table == {t: [reference[c][t] for c in (1000, 1300, 1500)] for t in reference[1000]}
    for values in PAPER["favor"]["reference"].values():
        for key in ("reward", "top1", "top3", "top5"):
            assert f"{values[key]:g}" in text
    for cap, entropy in PAPER["diversity"]["reference"].items():
        assert f"{entropy:.2f} (cap {cap})" in text
    tracked = subprocess.run(["git", "ls-files", "src", "config", "workflow", "docs", "README.md"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    citing = [f for f in tracked if (ROOT / f).is_file() and not f.endswith(".png")
              and "STUDY.md" in (ROOT / f).read_text(errors="replace")]
    assert citing == []

"""Shared fixtures: the repository root, the Snakemake command, copies of the repository, and
one smoke run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
BIN = Path(sys.executable).parent
# What a run or the user leaves in a working tree that a fresh clone does not have (untracked
# files are copied, so a new source file counts before it is committed, but not these).
RUN_OUTPUTS = ("results/", "dvc.lock", ".dvc/", ".snakemake/")


def copy_repository(dest: Path, source: Path = ROOT) -> Path:
    """The repository (``source``) as a fresh clone would have it, in ``dest``; returns ``dest``.

    Tracked files (as they are in the working tree) and untracked source files that git does
    not ignore, but nothing a run leaves behind: no results but the tracked ones, no dvc.lock
    unless it is tracked, no .snakemake/. Tests then run from ``dest`` as from the repository
    root, with the repository's profiles, and never read or write the user's results.
    """
    def listed(*flags: str) -> list[str]:
        out = subprocess.run(["git", "ls-files", "-z", *flags], cwd=source, capture_output=True,
                             text=True, check=True).stdout
        return [n for n in out.split("\0") if n]

    untracked = [n for n in listed("-o", "--exclude-standard") if not n.startswith(RUN_OUTPUTS)]
    for name in sorted({*listed(), *untracked}):
        here, target = source / name, dest / name
        if not here.is_symlink() and not here.is_file():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if here.is_symlink():
            target.symlink_to(os.readlink(here))
        else:
            shutil.copy2(here, target)
    return dest


def link_environment(repo: Path) -> None:
    """A ``.venv/`` in ``repo`` that is this test run's environment, marked installed.

    The Makefile's commands then run as written (their `setup` finds the environment
    installed), without installing into this environment from the copy.
    """
    venv = repo / ".venv"
    venv.mkdir()
    prefix = Path(sys.prefix)
    for entry in prefix.iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()


def shell(command: str, cwd: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    """A command line as a user types it, run by bash in ``cwd`` with the environment on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def snakemake(*args: str, workdir: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake on the project's Snakefile; return the finished process (never raises)."""
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile")]
    if workdir is not None:
        cmd += ["-d", str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _reproduce_in_copy(tmp_path_factory, config: str) -> Path:
    """`make reproduce` from a fresh copy's root, with config/<config>.yaml as its default."""
    repo = copy_repository(tmp_path_factory.mktemp(config) / "repo")
    (repo / "config" / "config.yaml").write_text((repo / "config" / f"{config}.yaml").read_text())
    link_environment(repo)
    proc = shell("make reproduce", cwd=repo)
    if proc.returncode != 0:
        pytest.fail(f"{config} run (make reproduce) failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return repo


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole DAG on config/smoke.yaml, once per test session; returns the repository copy.

    Run the way a user runs the study: `make reproduce`, the README's command, from the root of
    a fresh copy of the repository (outside git, so without DVC's bookkeeping, which
    tests/test_provenance.py covers), with the repository's default profile. In this copy
    config/config.yaml, the embedded default, holds config/smoke.yaml's content, so the
    README's commands run as written in minutes instead of the default's quarter of an hour.
    """
    return _reproduce_in_copy(tmp_path_factory, "smoke")


@pytest.fixture(scope="session")
def smoke_board_run(tmp_path_factory) -> Path:
    """The whole DAG on config/smoke-board.yaml (the board family, the default's), run as
    :func:`smoke_run` runs the text family's: `make reproduce` from a fresh copy's root."""
    return _reproduce_in_copy(tmp_path_factory, "smoke-board")


# A model and a dataset small enough for training tests to run in seconds.
TINY_MODEL_SIZES = dict(n_layer=1, n_head=2, n_embd=16, block_size=63)
TINY_GAMES = [";1.e4 e5 2.Nf3 Nc6 3.Bb5 a6", ";1.d4 d5 2.c4 e6 3.Nc3 Nf6", ";1.e4 c5 2.Nf3 d6"] * 20


@pytest.fixture
def tiny_train_data(tmp_path) -> Path:
    """train.bin and val.bin of a few packed openings, in a temporary directory."""
    from .helpers import pack_blocks

    blocks, _ = pack_blocks(TINY_GAMES, TINY_MODEL_SIZES["block_size"] + 1)
    blocks.tofile(tmp_path / "train.bin")
    blocks[:4].tofile(tmp_path / "val.bin")
    return tmp_path

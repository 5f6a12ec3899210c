"""Shared fixtures: the repository root, the Snakemake command, and one smoke run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args: str, workdir: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake on the project's Snakefile; return the finished process (never raises)."""
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile")]
    if workdir is not None:
        cmd += ["-d", str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole DAG on config/smoke.yaml, once per test session; returns its directory."""
    work = tmp_path_factory.mktemp("smoke")
    proc = snakemake("--cores", "2", "--configfile", str(ROOT / "config" / "smoke.yaml"), workdir=work)
    if proc.returncode != 0:
        pytest.fail(f"smoke run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return work


# A model and a dataset small enough for training tests to run in seconds.
TINY_MODEL_SIZES = dict(n_layer=1, n_head=2, n_embd=16, block_size=63)
TINY_GAMES = [";1.e4 e5 2.Nf3 Nc6 3.Bb5 a6", ";1.d4 d5 2.c4 e6 3.Nc3 Nf6", ";1.e4 c5 2.Nf3 d6"] * 20


@pytest.fixture
def tiny_train_data(tmp_path) -> Path:
    """train.bin and val.bin of a few packed openings, in a temporary directory."""
    from transcendence.packing import pack_blocks

    blocks, _ = pack_blocks(TINY_GAMES, TINY_MODEL_SIZES["block_size"] + 1)
    blocks.tofile(tmp_path / "train.bin")
    blocks[:4].tofile(tmp_path / "val.bin")
    return tmp_path

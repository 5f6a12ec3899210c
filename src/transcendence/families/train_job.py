"""The train rule's job: the config's family trains one model, on one process or on several (``torchrun``).

The Snakemake rule calls :func:`run` with the job's paths and config. With one process it
trains in place; with N > 1 (a family that trains data-parallel) it starts ``torchrun
--standalone --nproc_per_node N -m transcendence.families.train_job JOB`` on this machine, and
every rank runs :func:`main`, that is, the same family's ``train`` (which joins the process
group itself). By hand::

    torchrun --standalone --nproc_per_node 4 -m transcendence.families.train_job '{"train_bin": ...}'

JOB is a JSON object with the keys of :func:`run`'s ``job``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, TextIO

from ..training.train import TrainConfig, TrainPaths
from . import UNNAMED, family_named

JOB_KEYS = ("train_bin", "val_bin", "model_out", "metrics_out", "state_path", "live_dir", "model", "train", "seed")


def _train_job(job: Mapping[str, object], threads: int | None, log: TextIO) -> dict[str, object]:
    missing = [k for k in JOB_KEYS if k not in job]
    if missing:
        raise ValueError(f"training job is missing {missing}; it needs {list(JOB_KEYS)}")
    model = dict(job["model"])
    family = family_named(model.pop("family", UNNAMED))
    paths = TrainPaths(job["train_bin"], job["val_bin"], job["model_out"], job["metrics_out"],
                       state=job["state_path"], live=job["live_dir"])
    return family.train_network(paths, model, TrainConfig.from_config(job["train"], int(job["seed"])), threads=threads, log=log)


def run(job: Mapping[str, object], *, processes: int = 1, threads: int | None = None,
        log: TextIO = sys.stderr) -> None:
    """Train ``job`` on this machine with ``processes`` data-parallel ranks.

    ``threads`` is the job's CPU budget, split between the ranks. A failed rank makes
    torchrun stop the others; the error names the log, where their output went.
    """
    if processes <= 1:
        _train_job(job, threads, log)
        return
    family = family_named(job["model"].get("family", UNNAMED))
    if not family.data_parallel:
        raise ValueError(f"train.gpus {processes}: the {family.name} family trains on one device; "
                         "set train.gpus to 0 or 1")
    accum = int(job["train"].get("grad_accum", 1))
    if accum % processes:  # the ranks would refuse it too, but only after starting
        raise ValueError(f"train.grad_accum {accum} must be a multiple of the {processes} processes "
                         f"(train.gpus), so that the global batch does not depend on their number")
    per_rank = max(1, (threads or processes) // processes)
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "OMP_NUM_THREADS": str(per_rank),
           "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "transcendence.families.train_job", json.dumps({**job, "threads": per_rank})]
    print(f"[train] {' '.join(cmd[:7])} JOB", file=log, flush=True)
    log.flush()
    if _has_fileno(log):  # a log file: the ranks write straight into it
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    else:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log.write(proc.stdout)
    if proc.returncode:
        name = getattr(log, "name", "the log")
        raise RuntimeError(f"data-parallel training ({processes} processes) failed with exit code "
                           f"{proc.returncode}; the ranks' output is in {name}")


def _has_fileno(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    """What each torchrun rank runs: train the job given as one JSON argument."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: torchrun ... -m transcendence.families.train_job JOB_JSON")
    job = json.loads(args[0])
    _train_job(job, job.get("threads"), sys.stderr)


if __name__ == "__main__":
    main()

"""What every family's training shares: the recipe, its schedule, resuming, the machine's record.

The recipe is the paper's (AdamW, betas 0.9/0.95, weight decay on 2-D weights, gradient
clipping, linear warmup then cosine decay to a floor). Batches are drawn by a generator
seeded with (seed, step, micro-batch) (:func:`batch_rows`), so a run resumed from its latest
checkpoint continues exactly as if it had never stopped and the same config and seed give
the same weights on the same CPU. A training state is resumed only under the recipe it was
saved with (:func:`resume`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

import numpy as np
import torch

from ..files import file_sha256
from ..model.checkpoint import CheckpointError, read_checkpoint
from .distributed import Ranks

__all__ = ["TrainConfig", "TrainPaths", "TrainingDiverged", "batch_rows", "compute_fields", "data_fingerprint",
           "lr_at", "my_micro_batches", "resume", "resumed_train_loss"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or exploded; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int
    batch_size: int              # blocks per micro-batch (per process)
    grad_accum: int = 1          # micro-batches per optimiser step, over all processes
    learning_rate: float = 3e-4
    min_lr: float = 3e-5
    warmup_steps: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_interval: int = 500
    eval_batches: int = 20
    legal_prefixes: int = 0      # held-out prefixes for the legal-move share; 0 skips it
    checkpoint_interval: int = 1000
    log_interval: int = 50
    device: str = "auto"
    compile: bool = False
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping[str, object], seed: int) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra", "seed")}
        return cls(seed=seed, **{k: v for k, v in cfg.items() if k in known})


@dataclass(frozen=True)
class TrainPaths:
    """The files of one training job: its data, its outputs, and what it keeps to resume."""

    train: str | Path                 # the training set (the family's dataset_suffix)
    val: str | Path
    model_out: str | Path             # the evaluated checkpoint
    metrics_out: str | Path           # metrics.json; timing.json goes beside it
    state: str | Path | None = None   # the resumable training state
    live: str | Path | None = None    # DVCLive's curves


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay from ``learning_rate`` to ``min_lr`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    ratio = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.learning_rate - cfg.min_lr)


def batch_rows(seed: int, step: int, micro: int, n_blocks: int, batch_size: int) -> np.ndarray:
    """Rows of one micro-batch: a pure function of (seed, step, micro), hence resumable."""
    return np.random.default_rng([seed, step, micro]).integers(0, n_blocks, size=batch_size)


def my_micro_batches(ranks: Ranks, grad_accum: int) -> range:
    """The micro-batches (of ``grad_accum`` per step) that this rank computes."""
    if grad_accum % ranks.world:
        raise ValueError(f"train.grad_accum {grad_accum} must be a multiple of the {ranks.world} "
                         "processes, so that the global batch does not depend on their number")
    share = grad_accum // ranks.world
    return range(ranks.rank * share, (ranks.rank + 1) * share)


def data_fingerprint(train_path: str | Path, val_path: str | Path) -> dict[str, str]:
    """The sha256 of the training and validation files, for the recipe: a state learnt from
    other data must not be resumed, and two datasets of the same size are not the same data."""
    return {"train_sha256": file_sha256(train_path), "val_sha256": file_sha256(val_path)}


def resume(state_path: Path | None, recipe: Mapping[str, object], model: torch.nn.Module,
           opt: torch.optim.Optimizer, device: torch.device, compute: Mapping[str, str],
           log: TextIO) -> tuple[int, list, dict | None, float | None]:
    """Load the training state at ``state_path`` into ``model`` and ``opt`` when it was saved
    under the same ``recipe`` (model, hyperparameters, the data's hashes); returns (step,
    history, the compute the state was trained on, the exact training loss of its last step or
    None), (0, [], None, None) for a fresh start. A state
    of other work is ignored, never mixed in; one that cannot be read (truncated, not a
    state at all) is set aside as ``<state>.damaged``, with a log line. ``compute`` is this run's
    :func:`~transcendence.model.device.compute_description`.

    A state trained on another machine is resumed, with a log line: the work is the same,
    only its rounding differs (see :func:`~transcendence.model.device.compute_description`),
    and refusing it would restart a cluster job moved to another node type from scratch.
    """
    if not state_path or not state_path.exists():
        return 0, [], None, None
    try:
        state = read_checkpoint(state_path, device, weights_only=False)
        missing = sorted({"state_dict", "optimizer", "step", "history"} - state.keys())
        if missing:
            raise CheckpointError(f"{state_path} is no training state: it lacks {', '.join(missing)}")
    except CheckpointError as exc:
        # A state is only a head start: one that cannot be read must not stop training until a
        # person deletes it. Set aside, not deleted, so the damage can still be looked at.
        aside = state_path.with_name(state_path.name + ".damaged")
        with contextlib.suppress(FileNotFoundError):  # another data-parallel rank was first
            os.replace(state_path, aside)
        print(f"[train] {exc}; set aside as {aside}; starting afresh", file=log, flush=True)
        return 0, [], None, None
    except FileNotFoundError:  # another data-parallel rank set it aside after our exists()
        return 0, [], None, None
    saved = state.get("recipe") or {}
    if saved != recipe:
        changed = sorted(k for k in set(saved) | set(recipe) if saved.get(k) != recipe.get(k))
        print(f"[train] ignoring {state_path}: it was saved under another recipe ({', '.join(changed)} "
              "differ); starting afresh", file=log, flush=True)
        return 0, [], None, None
    model.load_state_dict(state["state_dict"])
    opt.load_state_dict(state["optimizer"])
    earlier = state.get("compute")
    print(f"[train] resumed from {state_path} at step {state['step']}", file=log, flush=True)
    if earlier is not None and earlier != compute:
        print(f"[train] that state was trained on {earlier}, this run goes on with {compute}: the "
              "checkpoint's last bits will match neither machine's uninterrupted run", file=log, flush=True)
    return state["step"], state["history"], earlier, state.get("train_loss")


def resumed_train_loss(saved: float | None, step: int, history: list, metrics_out: str | Path) -> float:
    """The training loss of a resumed state's last step, as ``final_train_loss`` of a run that
    ends there (a forced re-run of finished work) must write it: exactly what the run wrote.

    A state holds it (``train_loss``); one saved before states did comes with the history's
    value, rounded to 5 places, so the metrics.json the same run wrote (same steps, same
    history) gives the exact one where it exists. With neither, the rounded value.
    """
    if saved is not None:
        return saved
    if not history:
        return float("nan")
    try:
        written = json.loads(Path(metrics_out).read_text(encoding="utf-8"))
        if written["steps"] == step and written["history"] == history:
            return float(written["final_train_loss"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return history[-1]["train_loss"]


def compute_fields(compute: Mapping[str, str], earlier: dict | None) -> dict[str, object]:
    """timing.json's record of the machine: this run's, and the resumed state's where it differs."""
    resumed = {"resumed_from_compute": earlier} if earlier and earlier != compute else {}
    return {"compute": dict(compute), **resumed}



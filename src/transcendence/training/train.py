"""The training loop every model family trains with (:func:`train_model`), and its recipe.

The recipe is the paper's (AdamW, betas 0.9/0.95, weight decay on 2-D weights, gradient
clipping, linear warmup then cosine decay to a floor). Batches are drawn by a generator
seeded with (seed, step, micro-batch) (:func:`batch_rows`), so a run resumed from its latest
checkpoint continues exactly as if it had never stopped and the same config and seed give
the same weights on the same CPU. A training state is resumed only under the recipe it was
saved with (:func:`resume`). A family brings its network, data and batch (a
:class:`FamilyStep`); seeding, the schedule, resuming, curves, checkpoints, the log and the
timings are written here once.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Mapping, TextIO

import numpy as np
import torch

from ..files import file_sha256, write_json
from ..logs import format_duration
from ..model.checkpoint import CheckpointError, read_checkpoint, save_atomic
from ..model.device import compute_description
from . import distributed
from .distributed import Ranks

__all__ = ["FamilyStep", "TrainConfig", "TrainPaths", "TrainingDiverged", "batch_rows", "compute_fields",
           "data_fingerprint", "lr_at", "my_micro_batches", "optimizer_step", "resume", "resumed_train_loss",
           "train_model"]


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


class FamilyStep(ABC):
    """What one model family brings to the training loop: its network and optimiser on this
    rank's device, its data, and how a batch's gradients and a validation are computed.

    The loop (:func:`train_model`) owns everything else: seeding and determinism, the
    schedule, resuming, the divergence check, clipping, curves, checkpoints, the log and the
    timings. A family builds its step when the loop asks (after seeding, so the network's
    initial weights come from the seed).
    """

    unit: ClassVar[str]                 # what the throughput counts ("tokens", "positions")
    rate_curve: ClassVar[bool] = False  # whether the curves hold the throughput (<unit>_per_s)
    model: torch.nn.Module              # the network, as its checkpoints hold it
    opt: torch.optim.Optimizer
    per_step: int                       # units of one optimiser step (over all processes)

    @abstractmethod
    def recipe(self) -> dict[str, object]:
        """What the weights depend on besides the data's hashes (the network's config, the
        recipe's keys, the data's sizes), in the order the training state stores it."""

    def prepare(self, ranks: Ranks) -> None:
        """Anything to set up once the state is resumed (wrapping the network for DDP...)."""

    @abstractmethod
    def describe(self, cfg: TrainConfig) -> str:
        """The log's line about what trains, on what, for how long."""

    @abstractmethod
    def forward_backward(self, step: int) -> float:
        """The gradients of step ``step``'s batch (this rank's share), accumulated into the
        network's; returns the step's mean loss over every process."""

    def diverged(self, loss: float) -> bool:
        """Whether a step's loss says training has diverged (NaN, infinite, exploded)."""
        return not math.isfinite(loss)

    @abstractmethod
    def validate(self, step: int, lr: float) -> tuple[dict[str, object], dict[str, float]]:
        """After step ``step``: the history point's values (after ``step`` and ``train_loss``,
        the learning rate among them) and the curves' values."""

    @abstractmethod
    def metrics(self, steps: int, last_loss: float, history: list, digests: list[str],
                ranks: Ranks) -> dict[str, object]:
        """metrics.json: what the trained model is (no timings: DVC hashes it)."""

    @abstractmethod
    def save(self, path: str | Path, extra: Mapping[str, object]) -> None:
        """The evaluated checkpoint of the trained network."""


def optimizer_step(family: FamilyStep, step: int, lr: float, cfg: TrainConfig) -> float:
    """One optimiser step at learning rate ``lr``: the family's gradients, the divergence
    check, clipping, AdamW; returns the step's loss."""
    for group in family.opt.param_groups:
        group["lr"] = lr
    loss = family.forward_backward(step)
    if family.diverged(loss):
        family.opt.zero_grad(set_to_none=True)
        raise TrainingDiverged(f"loss {loss}")
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(family.model.parameters(), cfg.grad_clip)
    family.opt.step()
    family.opt.zero_grad(set_to_none=True)
    return loss


def train_model(make_step: Callable[[Ranks], FamilyStep], paths: TrainPaths, cfg: TrainConfig, *,
                threads: int | None = None, log: TextIO = sys.stderr) -> dict[str, object]:
    """Train from scratch, or resume from ``paths.state`` if a state of the same recipe is
    there. Under torchrun, every rank calls this; rank 0 writes the files and the log."""
    ranks = distributed.start(cfg.device)
    try:
        summary = _train(make_step, paths, cfg, ranks, threads=threads, log=log if ranks.main else io.StringIO())
    except BaseException:
        distributed.stop(ranks, clean=False)
        raise
    distributed.stop(ranks)
    return summary


def _train(make_step: Callable[[Ranks], FamilyStep], paths: TrainPaths, cfg: TrainConfig, ranks: Ranks, *,
           threads: int | None, log: TextIO) -> dict[str, object]:
    if threads:
        torch.set_num_threads(threads)
    device = ranks.device
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    family = make_step(ranks)
    model, opt = family.model, family.opt
    recipe = {**family.recipe(), **data_fingerprint(paths.train, paths.val)}
    state_path = Path(paths.state) if paths.state else None
    compute = compute_description(device)
    step, history, earlier_compute, saved_loss = resume(state_path, recipe, model, opt, device, compute, log)
    family.prepare(ranks)
    curves = None
    if ranks.main and paths.live is not None:
        from .tracking import Curves
        curves = Curves(paths.live, resume_step=step if step else None)

    def checkpoint() -> None:
        if state_path is None or not ranks.main:
            return
        save_atomic(state_path, {"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                 "step": step, "history": history, "recipe": recipe, "compute": compute,
                                 "train_loss": last_loss})

    print(f"[train] {family.describe(cfg)}", file=log, flush=True)
    model.train()
    first_step, started, cpu_started = step, time.monotonic(), time.process_time()
    window_start, window_count, train_seconds = time.monotonic(), 0, 0.0
    last_loss = resumed_train_loss(saved_loss, step, history, paths.metrics_out)  # what a resumed run with no step left writes
    unit = family.unit
    while step < cfg.max_steps:
        lr = lr_at(step, cfg)
        t0 = time.monotonic()
        try:
            last_loss = optimizer_step(family, step, lr, cfg)
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"{exc} at step {step}; the last good checkpoint is {state_path}") from None
        train_seconds += time.monotonic() - t0
        step += 1
        window_count += family.per_step
        if step % cfg.log_interval == 0 or step == cfg.max_steps:
            now = time.monotonic()
            rate = window_count / max(1e-9, now - window_start)
            eta = (cfg.max_steps - step) * family.per_step / max(rate, 1e-9)
            print(f"[train] step {step}/{cfg.max_steps} loss {last_loss:.4f} lr {lr:.2e} "
                  f"{rate:,.0f} {unit}/s ETA {format_duration(eta)}", file=log, flush=True)
            if curves is not None:
                curves.log(step, {"train/loss": last_loss, "lr": lr,
                                  **({f"{unit}_per_s": round(rate)} if family.rate_curve else {})})
            window_start, window_count = now, 0
        if ranks.main and (step % cfg.eval_interval == 0 or step == cfg.max_steps):
            eval_start = time.monotonic()
            point, shown = family.validate(step, lr)
            history.append({"step": step, "train_loss": round(last_loss, 5), **point})
            print(f"[train] step {step} " + " ".join(f"{k} {v:.4f}" for k, v in shown.items()), file=log, flush=True)
            if curves is not None:
                curves.log(step, shown)
            window_start += time.monotonic() - eval_start  # evaluation time is not training throughput
        if step % cfg.checkpoint_interval == 0:
            checkpoint()
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu_started
    digests = distributed.gather_digests(model, ranks)
    if len(set(digests)) != 1:
        raise RuntimeError(f"the {ranks.world} replicas hold different weights: {digests}")
    metrics = family.metrics(step, last_loss, history, digests, ranks)
    trained = (step - first_step) * family.per_step
    # Timings differ on every run and DVC hashes metrics.json: they go to timing.json beside it
    # (no rule's output, so neither Snakemake nor DVC tracks it) and the log. The rate is over
    # the optimiser steps alone, without evaluations and checkpoints.
    timing = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "threads": torch.get_num_threads(),
              f"{unit}_per_s": round(trained / train_seconds) if train_seconds else None,
              f"{unit}_per_cpu_s": round(trained / cpu) if cpu > 0 else None}
    if ranks.main:
        family.save(paths.model_out, {"step": step, "seed": cfg.seed})
        checkpoint()
        write_json(paths.metrics_out, metrics)
        write_json(Path(paths.metrics_out).with_name("timing.json"),
                   {**timing, **compute_fields(compute, earlier_compute)})
        print(f"[train] {timing['seconds']}s, {timing[f'{unit}_per_s']} {unit}/s", file=log, flush=True)
        if curves is not None:
            curves.close()
    return {**metrics, **timing}

"""Training of one board network per rating cap: cross-entropy on the move played.

The recipe is the GPT's (:mod:`transcendence.training.train`: AdamW, warmup then cosine decay,
gradient clipping, batches drawn by a generator seeded with (seed, step)), so a killed run
resumes exactly and the same config and seed give the same weights on the same CPU. The
loss is over the position's legal moves only (illegal moves' logits are masked), so the
network spends its capacity on ranking moves, not on learning the rules.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
import torch.nn.functional as F

from ...data.board_positions import Positions, load_positions
from ...files import write_json
from ...logs import format_duration
from ...model.board_encoding import legal_mask
from ...model.board_network import BoardNet, BoardNetConfig
from ...model.checkpoint import save_atomic, save_model
from ...model.device import compute_description, pick_device
from ...training.train import (TrainConfig, TrainingDiverged, batch_rows, compute_fields, data_fingerprint, lr_at,
                               resume, resumed_train_loss)

_RECIPE_KEYS = ("max_steps", "batch_size", "learning_rate", "min_lr", "warmup_steps", "weight_decay",
                "beta1", "beta2", "grad_clip", "seed")


def masked_logits(model: BoardNet, data: Positions, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """The network's logits for positions ``rows``, illegal moves at -inf."""
    features = torch.from_numpy(data.features[rows]).to(device)
    mask = legal_mask(data.legal, data.offsets, rows).to(device)
    return model(features).masked_fill(~mask, float("-inf"))


def batch_loss(model: BoardNet, data: Positions, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy on the moves played at ``rows``, and how many the argmax got right."""
    logits = masked_logits(model, data, rows, device)
    target = torch.from_numpy(data.moves[rows].astype(np.int64)).to(device)
    return F.cross_entropy(logits, target), (logits.argmax(dim=1) == target).sum()


@torch.no_grad()
def evaluate(model: BoardNet, data: Positions, cfg: TrainConfig, device: torch.device) -> tuple[float, float]:
    """Validation loss and top-1 agreement with the players, on a fixed seeded sample."""
    model.eval()
    rng = np.random.default_rng([cfg.seed, 0xFFFF])
    n = min(len(data), cfg.eval_batches * cfg.batch_size)
    rows = np.sort(rng.choice(len(data), size=n, replace=False))
    losses, hits = [], 0
    for start in range(0, n, cfg.batch_size):
        part = rows[start:start + cfg.batch_size]
        loss, right = batch_loss(model, data, part, device)
        losses.append(float(loss) * len(part))
        hits += int(right)
    model.train()
    return sum(losses) / n, hits / n


def train_board(train_pos: str | Path, val_pos: str | Path, model_out: str | Path, metrics_out: str | Path,
                model_cfg: BoardNetConfig, cfg: TrainConfig, *, state_path: str | Path | None = None,
                live_dir: str | Path | None = None, threads: int | None = None,
                log: TextIO = sys.stderr) -> dict[str, object]:
    """Train from scratch, or resume from ``state_path`` when it holds the same recipe and data."""
    # One thread whatever the job was given: this network is too small to gain from a second
    # one (1,380 against 1,569 positions/s measured), and with deterministic algorithms two
    # threads ran 12x slower (128 positions/s). Caps train in parallel instead, one per core.
    del threads
    torch.set_num_threads(1)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    train_data, val_data = load_positions(train_pos), load_positions(val_pos)
    recipe = {"family": "board", "model": model_cfg.to_dict(), **{k: getattr(cfg, k) for k in _RECIPE_KEYS},
              "train_positions": len(train_data), "val_positions": len(val_data),
              **data_fingerprint(train_pos, val_pos)}
    model = BoardNet(model_cfg).to(device)
    opt = torch.optim.AdamW(model.optimizer_groups(cfg.weight_decay), lr=cfg.learning_rate,
                            betas=(cfg.beta1, cfg.beta2))
    state_path = Path(state_path) if state_path else None
    compute = compute_description(device)
    step, history, earlier_compute, saved_loss = resume(state_path, recipe, model, opt, device, compute, log)
    curves = None
    if live_dir is not None:
        from ...training.tracking import Curves
        curves = Curves(live_dir, resume_step=step if step else None)

    def checkpoint() -> None:
        if state_path is not None:
            save_atomic(state_path, {"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                     "step": step, "history": history, "recipe": recipe, "compute": compute,
                                     "train_loss": last_loss})

    print(f"[train] board network {model_cfg.channels}x{model_cfg.blocks}, {model.num_params():,} parameters "
          f"on {device}, {len(train_data):,} training positions, {cfg.max_steps} steps of {cfg.batch_size} "
          f"({cfg.max_steps * cfg.batch_size / max(len(train_data), 1):.1f} epochs)", file=log, flush=True)
    model.train()
    first_step, started, cpu_started = step, time.monotonic(), time.process_time()
    window_start, window_steps = time.monotonic(), 0
    last_loss = resumed_train_loss(saved_loss, step, history, metrics_out)
    while step < cfg.max_steps:
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        rows = np.sort(batch_rows(cfg.seed, step, 0, len(train_data), cfg.batch_size))
        loss, _ = batch_loss(model, train_data, rows, device)
        last_loss = float(loss.detach())
        if not np.isfinite(last_loss):
            raise TrainingDiverged(f"loss {last_loss} at step {step}; the last good checkpoint is {state_path}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        window_steps += 1
        if step % cfg.log_interval == 0 or step == cfg.max_steps:
            now = time.monotonic()
            rate = window_steps * cfg.batch_size / max(now - window_start, 1e-9)
            eta = (cfg.max_steps - step) * cfg.batch_size / max(rate, 1e-9)
            print(f"[train] step {step}/{cfg.max_steps} loss {last_loss:.4f} lr {lr:.2e} "
                  f"{rate:,.0f} positions/s ETA {format_duration(eta)}", file=log, flush=True)
            if curves is not None:
                curves.log(step, {"train/loss": last_loss, "lr": lr})
            window_start, window_steps = now, 0
        if step % cfg.eval_interval == 0 or step == cfg.max_steps:
            eval_start = time.monotonic()
            val, agree = evaluate(model, val_data, cfg, device)
            history.append({"step": step, "train_loss": round(last_loss, 5), "val_loss": round(val, 5),
                            "val_top1": round(agree, 5), "lr": lr})
            print(f"[train] step {step} val/loss {val:.4f} val/top1 {agree:.4f}", file=log, flush=True)
            if curves is not None:
                curves.log(step, {"val/loss": val, "val/top1": agree})
            window_start += time.monotonic() - eval_start
        if step % cfg.checkpoint_interval == 0:
            checkpoint()
    summary = {
        "family": "board", "steps": step, "final_train_loss": last_loss,
        "final_val_loss": history[-1]["val_loss"] if history else None,
        "final_val_top1": history[-1]["val_top1"] if history else None,
        "parameters": model.num_params(), "device": str(device), "positions_per_step": cfg.batch_size,
        "train_positions": len(train_data), "history": history,
    }
    save_model(model_out, model, {"step": step, "seed": cfg.seed}, family="board")
    checkpoint()
    write_json(metrics_out, summary)
    # Timings differ on every run and DVC hashes metrics.json: they go to timing.json beside it.
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu_started
    positions = (step - first_step) * cfg.batch_size
    write_json(Path(metrics_out).with_name("timing.json"), {
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "threads": torch.get_num_threads(),
        "positions_per_s": round(positions / max(seconds, 1e-9)),
        "positions_per_cpu_s": round(positions / max(cpu, 1e-9)), **compute_fields(compute, earlier_compute)})
    if curves is not None:
        curves.close()
    return summary



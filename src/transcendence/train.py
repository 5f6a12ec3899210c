"""Training of one ChessFormer per rating cap.

The recipe is the paper's (AdamW, betas 0.9/0.95, weight decay on 2-D weights, gradient
clipping, linear warmup then cosine decay to a floor), at any size from the embedded
default's tiny model on a CPU to the 50M model on a GPU. Batches are drawn from the
memory-mapped token blocks by a generator seeded with (seed, step), so a run resumed from
its latest checkpoint continues exactly as if it had never stopped, and the same config and
seed give the same weights on the same CPU.
"""

from __future__ import annotations

import io
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

import numpy as np
import torch

from .files import atomic_path, write_json
from .model import GPT, GPTConfig
from .packing import load_blocks


class TrainingDiverged(RuntimeError):
    """The loss became NaN or exploded; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int
    batch_size: int
    grad_accum: int = 1
    learning_rate: float = 3e-4
    min_lr: float = 3e-5
    warmup_steps: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_interval: int = 500
    eval_batches: int = 20
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


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay from ``learning_rate`` to ``min_lr`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    ratio = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.learning_rate - cfg.min_lr)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def get_batch(blocks: np.ndarray, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.from_numpy(np.asarray(blocks[np.sort(rows)], dtype=np.int64))
    x, y = data[:, :-1], data[:, 1:]
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


def batch_rows(seed: int, step: int, micro: int, n_blocks: int, batch_size: int) -> np.ndarray:
    """Rows of one micro-batch: a pure function of (seed, step, micro), hence resumable."""
    return np.random.default_rng([seed, step, micro]).integers(0, n_blocks, size=batch_size)


@torch.no_grad()
def evaluate_loss(model: GPT, blocks: np.ndarray, cfg: TrainConfig, device: torch.device, autocast) -> float:
    model.eval()
    losses = []
    rng = np.random.default_rng([cfg.seed, 0xFFFF])  # the same val batches at every evaluation
    for _ in range(cfg.eval_batches):
        x, y = get_batch(blocks, rng.integers(0, len(blocks), size=cfg.batch_size), device)
        with autocast:
            _, loss, _ = model(x, y)
        losses.append(loss.item())
    model.train()
    return float(np.mean(losses))


def save_atomic(path: str | Path, obj: object) -> None:
    """``torch.save`` through memory, then an atomic write.

    Saving straight to a temporary file would embed its random name in the archive, and
    two identical checkpoints would then differ in their bytes.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def save_model(path: str | Path, model: GPT, extra: Mapping[str, object]) -> None:
    """The evaluated checkpoint: weights and model config only, written atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_atomic(path, {"model_config": model.config.to_dict(), "state_dict": state, **extra})


def load_model(path: str | Path, device: str | torch.device = "cpu") -> GPT:
    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = GPT(GPTConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


def train(train_bin: str | Path, val_bin: str | Path, model_out: str | Path, metrics_out: str | Path,
          model_cfg: GPTConfig, cfg: TrainConfig, *, state_path: str | Path | None = None,
          threads: int | None = None, log: TextIO = sys.stderr) -> dict[str, object]:
    """Train from scratch, or resume from ``state_path`` if a checkpoint is there."""
    if threads:
        torch.set_num_threads(threads)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    block = model_cfg.block_size + 1
    train_blocks, val_blocks = load_blocks(train_bin, block), load_blocks(val_bin, block)
    if len(train_blocks) == 0 or len(val_blocks) == 0:
        raise ValueError(f"empty dataset: {train_bin} has {len(train_blocks)} blocks, {val_bin} {len(val_blocks)}")

    model = GPT(model_cfg).to(device)
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(model.optimizer_groups(cfg.weight_decay), lr=cfg.learning_rate,
                            betas=(cfg.beta1, cfg.beta2), fused=fused)
    autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else nullcontext())
    step, history = 0, []
    state_path = Path(state_path) if state_path else None
    if state_path and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        step, history = state["step"], state["history"]
        print(f"[train] resumed from {state_path} at step {step}", file=log, flush=True)
    fwd = torch.compile(model) if cfg.compile else model

    def checkpoint() -> None:
        if state_path is None:
            return
        save_atomic(state_path, {"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                 "step": step, "history": history})

    tokens_per_step = cfg.batch_size * cfg.grad_accum * model_cfg.block_size
    print(f"[train] {model.num_params() / 1e6:.2f}M parameters on {device}, {len(train_blocks)} train blocks, "
          f"{cfg.max_steps} steps of {tokens_per_step} tokens", file=log, flush=True)
    model.train()
    started, window_start, window_tokens = time.monotonic(), time.monotonic(), 0
    last_loss = float("nan")
    while step < cfg.max_steps:
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        total = 0.0
        for micro in range(cfg.grad_accum):
            x, y = get_batch(train_blocks, batch_rows(cfg.seed, step, micro, len(train_blocks), cfg.batch_size), device)
            with autocast:
                _, loss, _ = fwd(x, y)
            (loss / cfg.grad_accum).backward()
            total += loss.item() / cfg.grad_accum
        if not math.isfinite(total) or total > 3 * math.log(model_cfg.vocab_size):
            # A fresh model's loss is about ln(vocab); three times that means it exploded.
            raise TrainingDiverged(f"loss {total} at step {step}; the last good checkpoint is {state_path}")
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        window_tokens += tokens_per_step
        last_loss = total
        if step % cfg.log_interval == 0 or step == cfg.max_steps:
            now = time.monotonic()
            tps = window_tokens / max(1e-9, now - window_start)
            eta = (cfg.max_steps - step) * tokens_per_step / max(tps, 1e-9)
            print(f"[train] step {step}/{cfg.max_steps} loss {total:.4f} lr {lr:.2e} "
                  f"{tps:,.0f} tokens/s ETA {eta:.0f}s", file=log, flush=True)
            window_start, window_tokens = now, 0
        if step % cfg.eval_interval == 0 or step == cfg.max_steps:
            val = evaluate_loss(model, val_blocks, cfg, device, autocast)
            history.append({"step": step, "train_loss": round(total, 5), "val_loss": round(val, 5), "lr": lr})
            print(f"[train] step {step} val loss {val:.4f}", file=log, flush=True)
        if step % cfg.checkpoint_interval == 0:
            checkpoint()
    elapsed = time.monotonic() - started
    save_model(model_out, model, {"step": step, "seed": cfg.seed})
    checkpoint()
    summary = {
        "steps": step, "final_train_loss": last_loss,
        "final_val_loss": history[-1]["val_loss"] if history else None,
        "parameters": model.num_params(), "device": str(device),
        "tokens_per_step": tokens_per_step, "seconds": round(elapsed, 2),
        "history": history,
    }
    write_json(metrics_out, summary)
    return summary

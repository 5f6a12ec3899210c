"""Training of one ChessFormer per rating cap, on one process or data-parallel.

The recipe is :mod:`transcendence.training.train`'s, at any size from a tiny model on a CPU
to the 50M model on one or several GPUs. Batches are drawn from the memory-mapped token
blocks, and N data-parallel processes (:mod:`transcendence.training.distributed`) see exactly
the micro-batches one process would: rank r takes its share of each step's ``grad_accum``
micro-batches, so the global batch, and the model, do not depend on how many GPUs trained it.

On CUDA the hot path is bf16 autocast, fused AdamW, PyTorch's flash attention (in the
model), optionally ``torch.compile``, uint8 token rows copied from the memory map into
pinned memory and sent asynchronously, and one host synchronisation per optimiser step.
"""

from __future__ import annotations

import io
import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from ...data.packing import load_blocks
from ...files import write_json
from ...logs import format_duration
from ...model.checkpoint import save_atomic, save_model
from ...model.device import compute_description
from ...model.gpt import GPT, GPTConfig
from ...training import distributed
from ...training.distributed import Ranks
from ...training.train import (TrainConfig, TrainingDiverged, batch_rows, compute_fields, data_fingerprint, lr_at,
                               my_micro_batches, resume, resumed_train_loss)
from .legality import held_out_prefixes, legal_move_share

# What the weights depend on; a training state saved under another recipe is not resumed.
_RECIPE_KEYS = ("max_steps", "batch_size", "grad_accum", "learning_rate", "min_lr", "warmup_steps",
                "weight_decay", "beta1", "beta2", "grad_clip", "seed")


def get_batch(blocks: np.ndarray, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of the blocks ``rows`` of a memory-mapped token file.

    One vectorised read of the uint8 rows (in file order), one pinned asynchronous copy to
    the GPU, and the widening to int64 there: no Python loop per row, 8x fewer bytes sent.
    """
    data = torch.from_numpy(blocks[np.sort(rows)])
    if device.type == "cuda":
        data = data.pin_memory().to(device, non_blocking=True)
    data = data.to(device).long()
    return data[:, :-1], data[:, 1:]


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


def build(model_cfg: GPTConfig, cfg: TrainConfig, device: torch.device
          ) -> tuple[GPT, torch.optim.AdamW, object]:
    """The model, its optimiser and the autocast context for ``device``."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # what autocast leaves in float32
        torch.backends.cudnn.allow_tf32 = True
    model = GPT(model_cfg).to(device)
    opt = torch.optim.AdamW(model.optimizer_groups(cfg.weight_decay), lr=cfg.learning_rate,
                            betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda")
    autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else nullcontext())
    return model, opt, autocast


def train_step(fwd: torch.nn.Module, model: GPT, opt: torch.optim.Optimizer, autocast,
               batches: Sequence[Callable[[], tuple[torch.Tensor, torch.Tensor]]], lr: float,
               cfg: TrainConfig, ranks: Ranks) -> float:
    """One optimiser step over this rank's micro-batches; returns the global mean loss.

    ``fwd`` is the model as trained (compiled, DDP-wrapped or plain). Gradients are scaled
    by this rank's share so that DDP's average over ranks is the mean over all
    ``grad_accum`` micro-batches; DDP synchronises only after the last micro-batch. The loss
    stays on the device until one ``.item()`` per step.
    """
    for group in opt.param_groups:
        group["lr"] = lr
    total = torch.zeros((), device=ranks.device)
    for i, fetch in enumerate(batches):
        x, y = fetch()
        if isinstance(fwd, DistributedDataParallel):
            fwd.require_backward_grad_sync = i == len(batches) - 1
        with autocast:
            _, loss, _ = fwd(x, y)
        (loss / len(batches)).backward()
        total += loss.detach() / cfg.grad_accum
    mean = distributed.sum_across(total, ranks).item()
    if not math.isfinite(mean) or mean > 3 * math.log(model.config.vocab_size):
        # A fresh model's loss is about ln(vocab); three times that means it exploded.
        opt.zero_grad(set_to_none=True)
        raise TrainingDiverged(f"loss {mean}")
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return mean


def train(train_bin: str | Path, val_bin: str | Path, model_out: str | Path, metrics_out: str | Path,
          model_cfg: GPTConfig, cfg: TrainConfig, *, state_path: str | Path | None = None,
          live_dir: str | Path | None = None, threads: int | None = None,
          log: TextIO = sys.stderr) -> dict[str, object]:
    """Train from scratch, or resume from ``state_path`` if a checkpoint of the same recipe
    is there. Under torchrun, every rank calls this; rank 0 writes the files and the log."""
    ranks = distributed.start(cfg.device)
    try:
        summary = _train(train_bin, val_bin, model_out, metrics_out, model_cfg, cfg, ranks,
                         state_path=Path(state_path) if state_path else None, live_dir=live_dir,
                         threads=threads, log=log if ranks.main else io.StringIO())
    except BaseException:
        distributed.stop(ranks, clean=False)
        raise
    distributed.stop(ranks)
    return summary


def _train(train_bin, val_bin, model_out, metrics_out, model_cfg: GPTConfig, cfg: TrainConfig, ranks: Ranks, *,
           state_path: Path | None, live_dir, threads: int | None, log: TextIO) -> dict[str, object]:
    if threads:
        torch.set_num_threads(threads)
    device = ranks.device
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    block = model_cfg.block_size + 1
    train_blocks, val_blocks = load_blocks(train_bin, block), load_blocks(val_bin, block)
    if len(train_blocks) == 0 or len(val_blocks) == 0:
        raise ValueError(f"empty dataset: {train_bin} has {len(train_blocks)} blocks, {val_bin} {len(val_blocks)}")
    micros = my_micro_batches(ranks, cfg.grad_accum)
    recipe = {"model": model_cfg.to_dict(), **{k: getattr(cfg, k) for k in _RECIPE_KEYS},
              "train_blocks": len(train_blocks), "val_blocks": len(val_blocks),
              **data_fingerprint(train_bin, val_bin)}

    model, opt, autocast = build(model_cfg, cfg, device)
    compute = compute_description(device)
    step, history, earlier_compute, saved_loss = resume(state_path, recipe, model, opt, device, compute, log)
    fwd: torch.nn.Module = torch.compile(model) if cfg.compile else model
    if ranks.world > 1:
        fwd = DistributedDataParallel(fwd, device_ids=[device.index] if device.type == "cuda" else None)
    prefixes = (held_out_prefixes(val_blocks, cfg.legal_prefixes, cfg.seed, model_cfg.block_size)
                if ranks.main and cfg.legal_prefixes else [])
    curves = None
    if ranks.main and live_dir is not None:
        from ...training.tracking import Curves
        curves = Curves(live_dir, resume_step=step if step else None)

    def checkpoint() -> None:
        if state_path is None or not ranks.main:
            return
        save_atomic(state_path, {"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                 "step": step, "history": history, "recipe": recipe, "compute": compute,
                                 "train_loss": last_loss})

    tokens_per_step = cfg.batch_size * cfg.grad_accum * model_cfg.block_size
    print(f"[train] {model.num_params() / 1e6:.2f}M parameters on {device} x {ranks.world}, "
          f"{len(train_blocks)} train blocks, {cfg.max_steps} steps of {tokens_per_step} tokens, "
          f"{len(prefixes)} held-out prefixes for the legal-move share", file=log, flush=True)
    model.train()
    first_step, started = step, time.monotonic()
    window_start, window_tokens, train_seconds = time.monotonic(), 0, 0.0
    last_loss = resumed_train_loss(saved_loss, step, history, metrics_out)  # what a resumed run with no step left writes
    while step < cfg.max_steps:
        lr = lr_at(step, cfg)
        batches = [lambda m=m, s=step: get_batch(train_blocks, batch_rows(cfg.seed, s, m, len(train_blocks),
                                                                          cfg.batch_size), device)
                   for m in micros]
        t0 = time.monotonic()
        try:
            last_loss = train_step(fwd, model, opt, autocast, batches, lr, cfg, ranks)
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"{exc} at step {step}; the last good checkpoint is {state_path}") from None
        train_seconds += time.monotonic() - t0
        step += 1
        window_tokens += tokens_per_step
        if step % cfg.log_interval == 0 or step == cfg.max_steps:
            now = time.monotonic()
            tps = window_tokens / max(1e-9, now - window_start)
            eta = (cfg.max_steps - step) * tokens_per_step / max(tps, 1e-9)
            print(f"[train] step {step}/{cfg.max_steps} loss {last_loss:.4f} lr {lr:.2e} "
                  f"{tps:,.0f} tokens/s ETA {format_duration(eta)}", file=log, flush=True)
            if curves is not None:
                curves.log(step, {"train/loss": last_loss, "lr": lr, "tokens_per_s": round(tps)})
            window_start, window_tokens = now, 0
        if ranks.main and (step % cfg.eval_interval == 0 or step == cfg.max_steps):
            eval_start = time.monotonic()
            val = evaluate_loss(model, val_blocks, cfg, device, autocast)
            point = {"step": step, "train_loss": round(last_loss, 5), "val_loss": round(val, 5), "lr": lr}
            shown = {"val/loss": val}
            if prefixes:
                with autocast:
                    point["legal_move_share"] = legal_move_share(model, prefixes, cfg.seed, step)
                shown["val/legal_move_share"] = point["legal_move_share"]
            history.append(point)
            print(f"[train] step {step} " + " ".join(f"{k} {v:.4f}" for k, v in shown.items()), file=log, flush=True)
            if curves is not None:
                curves.log(step, shown)
            window_start += time.monotonic() - eval_start  # evaluation time is not training throughput
        if step % cfg.checkpoint_interval == 0:
            checkpoint()
    elapsed = time.monotonic() - started
    digests = distributed.gather_digests(model, ranks)
    if len(set(digests)) != 1:
        raise RuntimeError(f"the {ranks.world} replicas hold different weights: {digests}")
    summary = {
        "steps": step, "final_train_loss": last_loss,
        "final_val_loss": history[-1]["val_loss"] if history else None,
        "parameters": model.num_params(), "device": str(device), "processes": ranks.world,
        "tokens_per_step": tokens_per_step,
        "tokens_per_s": round((step - first_step) * tokens_per_step / train_seconds) if train_seconds else None,
        "seconds": round(elapsed, 2), "replica_weights_sha256": digests, "history": history,
    }
    if ranks.main:
        save_model(model_out, model, {"step": step, "seed": cfg.seed})
        checkpoint()
        # Timings differ on every run and DVC hashes metrics.json: they go to timing.json
        # beside it (no rule's output, so neither Snakemake nor DVC tracks it) and the log.
        timing = ("tokens_per_s", "seconds")
        write_json(metrics_out, {k: v for k, v in summary.items() if k not in timing})
        write_json(Path(metrics_out).with_name("timing.json"),
                   {**{k: summary[k] for k in timing}, **compute_fields(compute, earlier_compute)})
        print(f"[train] {summary['seconds']}s, {summary['tokens_per_s']} tokens/s", file=log, flush=True)
        if curves is not None:
            curves.close()
    return summary

"""The ChessFormer's training step: token blocks, micro-batches over data-parallel ranks, the legality check.

The loop and the recipe are :mod:`transcendence.training.train`'s, at any size from a tiny
model on a CPU to the 50M model on one or several GPUs. Batches are drawn from the
memory-mapped token blocks, and N data-parallel processes (:mod:`transcendence.training.distributed`)
see exactly the micro-batches one process would: rank r takes its share of each step's
``grad_accum`` micro-batches, so the global batch, and the model, do not depend on how many
GPUs trained it.

On CUDA the hot path is bf16 autocast, fused AdamW, PyTorch's flash attention (in the
model), optionally ``torch.compile``, uint8 token rows copied from the memory map into
pinned memory and sent asynchronously, and one host synchronisation per optimiser step.
"""

from __future__ import annotations

import math
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Mapping, TextIO

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from ...data.packing import load_blocks
from ...model.checkpoint import save_model
from ...model.gpt import GPT, GPTConfig
from ...training import distributed
from ...training.distributed import Ranks
from ...training.train import FamilyStep, TrainConfig, TrainPaths, batch_rows, my_micro_batches, train_model
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


class TextStep(FamilyStep):
    """The ChessFormer on this rank: its share of each step's micro-batches of token blocks."""

    unit = "tokens"
    rate_curve = True

    def __init__(self, train_blocks: np.ndarray, val_blocks: np.ndarray, model_cfg: GPTConfig, cfg: TrainConfig,
                 ranks: Ranks) -> None:
        self.model_cfg, self.cfg, self.ranks = model_cfg, cfg, ranks
        self.train_blocks, self.val_blocks = train_blocks, val_blocks
        self.micros = my_micro_batches(ranks, cfg.grad_accum)
        self.model, self.opt, self.autocast = build(model_cfg, cfg, ranks.device)
        self.fwd: torch.nn.Module = self.model
        self.prefixes: list = []
        self.per_step = cfg.batch_size * cfg.grad_accum * model_cfg.block_size

    def recipe(self) -> dict[str, object]:
        return {"model": self.model_cfg.to_dict(), **{k: getattr(self.cfg, k) for k in _RECIPE_KEYS},
                "train_blocks": len(self.train_blocks), "val_blocks": len(self.val_blocks)}

    def prepare(self, ranks: Ranks) -> None:
        cfg, device = self.cfg, ranks.device
        self.fwd = torch.compile(self.model) if cfg.compile else self.model
        if ranks.world > 1:
            self.fwd = DistributedDataParallel(self.fwd, device_ids=[device.index] if device.type == "cuda" else None)
        self.prefixes = (held_out_prefixes(self.val_blocks, cfg.legal_prefixes, cfg.seed, self.model_cfg.block_size)
                         if ranks.main and cfg.legal_prefixes else [])

    def describe(self, cfg: TrainConfig) -> str:
        return (f"{self.model.num_params() / 1e6:.2f}M parameters on {self.ranks.device} x {self.ranks.world}, "
                f"{len(self.train_blocks)} train blocks, {cfg.max_steps} steps of {self.per_step} tokens, "
                f"{len(self.prefixes)} held-out prefixes for the legal-move share")

    def forward_backward(self, step: int) -> float:
        """This rank's micro-batches of the step. Gradients are scaled by this rank's share so
        that DDP's average over ranks is the mean over all ``grad_accum`` micro-batches; DDP
        synchronises only after the last micro-batch. The loss stays on the device until one
        ``.item()`` per step."""
        cfg, ranks = self.cfg, self.ranks
        total = torch.zeros((), device=ranks.device)
        for i, micro in enumerate(self.micros):
            x, y = get_batch(self.train_blocks, batch_rows(cfg.seed, step, micro, len(self.train_blocks),
                                                           cfg.batch_size), ranks.device)
            if isinstance(self.fwd, DistributedDataParallel):
                self.fwd.require_backward_grad_sync = i == len(self.micros) - 1
            with self.autocast:
                _, loss, _ = self.fwd(x, y)
            (loss / len(self.micros)).backward()
            total += loss.detach() / cfg.grad_accum
        return distributed.sum_across(total, ranks).item()

    def diverged(self, loss: float) -> bool:
        # A fresh model's loss is about ln(vocab); three times that means it exploded.
        return not math.isfinite(loss) or loss > 3 * math.log(self.model_cfg.vocab_size)

    def validate(self, step: int, lr: float) -> tuple[dict[str, object], dict[str, float]]:
        val = evaluate_loss(self.model, self.val_blocks, self.cfg, self.ranks.device, self.autocast)
        point: dict[str, object] = {"val_loss": round(val, 5), "lr": lr}
        shown = {"val/loss": val}
        if self.prefixes:
            with self.autocast:
                point["legal_move_share"] = legal_move_share(self.model, self.prefixes, self.cfg.seed, step)
            shown["val/legal_move_share"] = point["legal_move_share"]
        return point, shown

    def metrics(self, steps: int, last_loss: float, history: list, digests: list[str],
                ranks: Ranks) -> dict[str, object]:
        return {"steps": steps, "final_train_loss": last_loss,
                "final_val_loss": history[-1]["val_loss"] if history else None,
                "parameters": self.model.num_params(), "device": str(ranks.device), "processes": ranks.world,
                "tokens_per_step": self.per_step, "replica_weights_sha256": digests, "history": history}

    def save(self, path: str | Path, extra: Mapping[str, object]) -> None:
        save_model(path, self.model, extra)  # no family key: the format these checkpoints always had


def train(train_bin: str | Path, val_bin: str | Path, model_out: str | Path, metrics_out: str | Path,
          model_cfg: GPTConfig, cfg: TrainConfig, *, state_path: str | Path | None = None,
          live_dir: str | Path | None = None, threads: int | None = None,
          log: TextIO = sys.stderr) -> dict[str, object]:
    """Train one ChessFormer, resuming from ``state_path`` when it holds the same recipe and data."""
    paths = TrainPaths(train_bin, val_bin, model_out, metrics_out, state=state_path, live=live_dir)

    def step(ranks: Ranks) -> TextStep:
        block = model_cfg.block_size + 1
        train_blocks, val_blocks = load_blocks(paths.train, block), load_blocks(paths.val, block)
        if len(train_blocks) == 0 or len(val_blocks) == 0:
            raise ValueError(f"empty dataset: {paths.train} has {len(train_blocks)} blocks, {paths.val} {len(val_blocks)}")
        return TextStep(train_blocks, val_blocks, model_cfg, cfg, ranks)

    return train_model(step, paths, cfg, threads=threads, log=log)

"""Training of a network that reads the board: cross-entropy on the move played.

The loop and the recipe are :mod:`transcendence.training.train`'s (one process: these
networks are small). The loss is over the position's legal moves only (illegal moves'
logits are masked), so the network spends its capacity on ranking moves, not on learning
the rules. Any family that trains on the board positions (:mod:`transcendence.data.board_positions`)
uses this step with its own network.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Mapping, TextIO

import numpy as np
import torch
import torch.nn.functional as F

from ...data.board_positions import Positions, load_positions
from ...model.board_encoding import legal_mask
from ...model.board_network import BoardNet, BoardNetConfig
from ...model.checkpoint import save_model
from ...training.distributed import Ranks
from ...training.train import FamilyStep, TrainConfig, TrainPaths, batch_rows, train_model

_RECIPE_KEYS = ("max_steps", "batch_size", "learning_rate", "min_lr", "warmup_steps", "weight_decay",
                "beta1", "beta2", "grad_clip", "seed")


def masked_logits(model: torch.nn.Module, data: Positions, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """The network's logits for positions ``rows``, illegal moves at -inf."""
    features = torch.from_numpy(data.features[rows]).to(device)
    mask = legal_mask(data.legal, data.offsets, rows).to(device)
    return model(features).masked_fill(~mask, float("-inf"))


def batch_loss(model: torch.nn.Module, data: Positions, rows: np.ndarray, device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy on the moves played at ``rows``, and how many the argmax got right."""
    logits = masked_logits(model, data, rows, device)
    target = torch.from_numpy(data.moves[rows].astype(np.int64)).to(device)
    return F.cross_entropy(logits, target), (logits.argmax(dim=1) == target).sum()


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Positions, cfg: TrainConfig, device: torch.device) -> tuple[float, float]:
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


class PositionsStep(FamilyStep):
    """A network over board positions: one batch of positions a step, on one device.

    ``network`` builds the untrained network (called after the loop has seeded torch);
    ``family`` names the family in the recipe, metrics.json and the checkpoint; ``title``
    says what trains in the log.
    """

    unit = "positions"

    def __init__(self, paths: TrainPaths, network: Callable[[], torch.nn.Module], cfg: TrainConfig, ranks: Ranks,
                 *, family: str, title: str) -> None:
        self.cfg, self.device, self.family, self.title = cfg, ranks.device, family, title
        self.train_data, self.val_data = load_positions(paths.train), load_positions(paths.val)
        self.model = network().to(self.device)
        self.opt = torch.optim.AdamW(self.model.optimizer_groups(cfg.weight_decay), lr=cfg.learning_rate,
                                     betas=(cfg.beta1, cfg.beta2))
        self.per_step = cfg.batch_size

    def recipe(self) -> dict[str, object]:
        return {"family": self.family, "model": self.model.config.to_dict(),
                **{k: getattr(self.cfg, k) for k in _RECIPE_KEYS},
                "train_positions": len(self.train_data), "val_positions": len(self.val_data)}

    def describe(self, cfg: TrainConfig) -> str:
        return (f"{self.title}, {self.model.num_params():,} parameters on {self.device}, "
                f"{len(self.train_data):,} training positions, {cfg.max_steps} steps of {cfg.batch_size} "
                f"({cfg.max_steps * cfg.batch_size / max(len(self.train_data), 1):.1f} epochs)")

    def forward_backward(self, step: int) -> float:
        cfg = self.cfg
        rows = np.sort(batch_rows(cfg.seed, step, 0, len(self.train_data), cfg.batch_size))
        loss, _ = batch_loss(self.model, self.train_data, rows, self.device)
        loss.backward()
        return float(loss.detach())

    def validate(self, step: int, lr: float) -> tuple[dict[str, object], dict[str, float]]:
        val, agree = evaluate(self.model, self.val_data, self.cfg, self.device)
        return {"val_loss": round(val, 5), "val_top1": round(agree, 5), "lr": lr}, {"val/loss": val, "val/top1": agree}

    def metrics(self, steps: int, last_loss: float, history: list, digests: list[str],
                ranks: Ranks) -> dict[str, object]:
        return {"family": self.family, "steps": steps, "final_train_loss": last_loss,
                "final_val_loss": history[-1]["val_loss"] if history else None,
                "final_val_top1": history[-1]["val_top1"] if history else None,
                "parameters": self.model.num_params(), "device": str(self.device), "positions_per_step": self.per_step,
                "train_positions": len(self.train_data), "history": history}

    def save(self, path: str | Path, extra: Mapping[str, object]) -> None:
        save_model(path, self.model, extra, family=self.family)


def train_positions(paths: TrainPaths, network: Callable[[], torch.nn.Module], cfg: TrainConfig, *,
                    family: str, title: str, log: TextIO = sys.stderr) -> dict[str, object]:
    """Train a network over board positions, resuming from ``paths.state`` when it holds the
    same recipe and data."""
    # One thread whatever the job was given: these networks are too small to gain from a second
    # one (1,380 against 1,569 positions/s measured on the board network), and with
    # deterministic algorithms two threads ran 12x slower (128 positions/s). Caps train in
    # parallel instead, one per core.
    return train_model(lambda ranks: PositionsStep(paths, network, cfg, ranks, family=family, title=title),
                       paths, cfg, threads=1, log=log)


def train_board(train_pos: str | Path, val_pos: str | Path, model_out: str | Path, metrics_out: str | Path,
                model_cfg: BoardNetConfig, cfg: TrainConfig, *, state_path: str | Path | None = None,
                live_dir: str | Path | None = None, threads: int | None = None,
                log: TextIO = sys.stderr) -> dict[str, object]:
    """Train one board network, resuming from ``state_path`` when it holds the same recipe and data.
    ``threads`` is ignored (see :func:`train_positions`)."""
    paths = TrainPaths(train_pos, val_pos, model_out, metrics_out, state=state_path, live=live_dir)
    return train_positions(paths, lambda: BoardNet(model_cfg), cfg, family="board",
                           title=f"board network {model_cfg.channels}x{model_cfg.blocks}", log=log)

"""The linear family: a linear policy over the board features (:mod:`.network`), a deliberately tiny baseline.

It is the board family with another network: the same data set of positions, training step
(:func:`transcendence.families.board.training.train_positions`), policy over the legal moves
and held-out games. Adding it took this folder, its line in the registry and its name in the
schema's ``model.family`` enum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, TextIO

from ..base import restored
from ..board import BoardFamily

if TYPE_CHECKING:
    import torch

    from ...training.train import TrainConfig, TrainPaths


class LinearFamily(BoardFamily):
    name = "linear"
    label = "linearnet"
    reads = "linear policy reading the position"

    def network_type(self) -> type[torch.nn.Module]:
        from .network import LinearPolicy

        return LinearPolicy

    def train_network(self, paths: TrainPaths, model: Mapping[str, Any], cfg: TrainConfig, *,
                      threads: int | None, log: TextIO) -> dict[str, object]:
        from ..board.training import train_positions
        from .network import LinearConfig, LinearPolicy

        return train_positions(paths, lambda: LinearPolicy(LinearConfig(**model)), cfg, family=self.name,
                               title="linear policy", log=log)

    def load_network(self, checkpoint: Mapping[str, Any], device: str | torch.device) -> torch.nn.Module:
        from .network import LinearConfig, LinearPolicy

        return restored(LinearPolicy(LinearConfig(**checkpoint["model_config"])), checkpoint, device)

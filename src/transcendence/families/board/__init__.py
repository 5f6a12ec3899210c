"""The board family: a residual CNN (:mod:`transcendence.model.board_network`) that reads the position.

Its data set is (position, move played) pairs (:mod:`transcendence.data.board_positions`); it
trains on the move played with illegal moves masked (:mod:`.training`) and samples over the
legal moves (:mod:`.policy`). Whole games go to train or val, so its test positions come from
held-out games.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TextIO

import chess

from ..base import Family, GamePosition, MovePolicy, SourceGame, restored

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ...training.train import TrainConfig, TrainPaths


class BoardFamily(Family):
    name = "board"
    label = "boardnet"
    reads = "board network reading the position"
    dataset_suffix = "pos"

    def network_type(self) -> type[torch.nn.Module]:
        from ...model.board_network import BoardNet

        return BoardNet

    def build_dataset(self, dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                      meta_out: str | Path, *, block_size: int, val_fraction: float, shuffle_bucket_mb: float,
                      seed: int, workers: int, log: TextIO) -> dict:
        from ...data.board_positions import build_positions

        return build_positions(list(dumps), train_out, val_out, meta_out, val_fraction=val_fraction, seed=seed,
                               workers=workers, log=log)

    def train_network(self, paths: TrainPaths, model: Mapping[str, Any], cfg: TrainConfig, *,
              threads: int | None, log: TextIO) -> dict[str, object]:
        from ...model.board_network import BoardNetConfig
        from .training import train_board

        return train_board(paths.train, paths.val, paths.model_out, paths.metrics_out, BoardNetConfig(**model), cfg,
                           state_path=paths.state, live_dir=paths.live, threads=threads, log=log)

    def load_network(self, checkpoint: Mapping[str, Any], device: str | torch.device) -> torch.nn.Module:
        from ...model.board_network import BoardNet, BoardNetConfig

        return restored(BoardNet(BoardNetConfig(**checkpoint["model_config"])), checkpoint, device)

    def batch_policy(self, model: torch.nn.Module, *, slots: int, temperature: float, mode: str,
                     max_tries: int) -> MovePolicy:
        from .policy import BoardBatchPolicy

        return BoardBatchPolicy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries,
                                family=self.name)

    def legal_move_scores(self, model: torch.nn.Module, board: chess.Board, sans: list[str]
                          ) -> tuple[list[chess.Move], torch.Tensor]:
        from .policy import legal_move_scores

        return legal_move_scores(model, board)

    def hidden_states(self, model: torch.nn.Module, positions: Sequence[GamePosition]) -> np.ndarray:
        from .policy import hidden_states

        return hidden_states(model, [p.fen for p in positions])

    def test_games(self, dumps: Sequence[str | Path], *, context: int | None, val_fraction: float,
                   seed: int) -> tuple[list[SourceGame], list[int]]:
        """The games of the dataset's val split, re-drawn from the dumps (every position of each)."""
        from ...data.board_positions import val_games

        games: list[SourceGame] = []
        plies: list[int] = []
        for dump, index, sans in val_games(dumps, val_fraction=val_fraction, seed=seed):
            games.append((dump, index, sans))
            plies.append(len(sans))
        return games, plies

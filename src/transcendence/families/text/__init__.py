"""The text family: the paper's ChessFormer (:mod:`transcendence.model.gpt`), reading the move list as characters.

Its data set is packed character blocks (:mod:`transcendence.data.packing`); it plays the
paper's ``per_character`` protocol or over the legal moves' total log-probabilities
(:mod:`.batch_policy` for many games at once, :mod:`.policy` for one position,
:mod:`.move_samples` for many samples of one position), and reads as much of a game as its
context holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, TextIO

import chess

from ..base import Family, GamePosition, MovePolicy, MoveSampler, MoveScorer, SourceGame, restored

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ...training.train import TrainConfig, TrainPaths


class TextFamily(Family):
    name = "text"
    label = "chessformer"
    reads = "ChessFormer reading the move list"
    dataset_suffix = "bin"
    modes = ("legal_moves", "per_character")
    reads_moves = True
    data_parallel = True
    held_out_positions = False   # the packed blocks keep no game identity (readable_games)
    held_out_from_dumps = False  # its val games are in the packed val file

    def config_problems(self, config: Mapping[str, Any]) -> list[str]:
        problems = super().config_problems(config)
        model = config.get("model", {})
        n_embd, n_head = model.get("n_embd"), model.get("n_head")
        if isinstance(n_embd, int) and isinstance(n_head, int) and n_head and n_embd % n_head:
            problems.append(f"model.n_embd ({n_embd}) must be a multiple of model.n_head ({n_head}): "
                            f"each attention head takes n_embd / n_head of the width")
        return problems

    def network_type(self) -> type[torch.nn.Module]:
        from ...model.gpt import GPT

        return GPT

    def build_dataset(self, dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                      meta_out: str | Path, *, block_size: int, val_fraction: float, shuffle_bucket_mb: float,
                      seed: int, workers: int, log: TextIO) -> dict:
        from ...data.packing import build_dataset

        return build_dataset(list(dumps), train_out, val_out, meta_out, block_size=block_size,
                             val_fraction=val_fraction, seed=seed, shuffle_bucket_mb=shuffle_bucket_mb,
                             workers=workers, log=log)

    def train_network(self, paths: TrainPaths, model: Mapping[str, Any], cfg: TrainConfig, *,
              threads: int | None, log: TextIO) -> dict[str, object]:
        from ...model.gpt import GPTConfig
        from .training import train

        return train(paths.train, paths.val, paths.model_out, paths.metrics_out, GPTConfig(**model), cfg,
                     state_path=paths.state, live_dir=paths.live, threads=threads, log=log)

    def save_network(self, path: str | Path, model: torch.nn.Module, extra: Mapping[str, object]) -> None:
        from ...model.checkpoint import save_model

        save_model(path, model, extra)  # no family key: the format these checkpoints always had

    def load_network(self, checkpoint: Mapping[str, Any], device: str | torch.device) -> torch.nn.Module:
        from ...model.gpt import GPT, GPTConfig

        return restored(GPT(GPTConfig(**checkpoint["model_config"])), checkpoint, device)

    def batch_policy(self, model: torch.nn.Module, *, slots: int, temperature: float, mode: str,
                     max_tries: int) -> MovePolicy:
        from .batch_policy import BatchPolicy

        return BatchPolicy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries)

    def legal_move_scores(self, model: torch.nn.Module, board: chess.Board, sans: list[str]
                          ) -> tuple[list[chess.Move], torch.Tensor]:
        from .policy import ModelPolicy

        return ModelPolicy(model, temperature=1.0, mode="legal_moves").legal_move_scores(board, sans)

    def move_scorer(self, model: torch.nn.Module) -> MoveScorer:
        from .policy import ModelPolicy

        return ModelPolicy(model, temperature=1.0, mode="legal_moves")  # keeps its prompt cache between positions

    def position_sampler(self, model: torch.nn.Module, board: chess.Board, sans: list[str],
                         mode: str) -> MoveSampler:
        if mode == "per_character":
            from .move_samples import CharacterSampler

            return CharacterSampler(model, board, sans)
        return super().position_sampler(model, board, sans, mode)

    def hidden_states(self, model: torch.nn.Module, positions: Sequence[GamePosition]) -> np.ndarray:
        from .hidden_states import last_hidden_states

        return last_hidden_states(model, positions)

    def context_length(self, model: torch.nn.Module) -> int | None:
        return model.config.block_size

    def _held_out(self, *, dumps: Sequence[str | Path], val: str | Path | None, meta: Mapping[str, Any],
                  val_fraction: float, seed: int, first_plies: int | None
                  ) -> tuple[dict[str, Any], Iterator[tuple[dict[str, Any], list[str]]], int | None, str]:
        """The packed val token file itself, decoded."""
        from ...data.held_out import text_val_games

        if val is None:
            raise ValueError("the text family's held-out games are its packed val file; none given")
        source = {"family": self.name, "from": "the text dataset's val split: the packed val token file, decoded",
                  "val": str(val)}
        games = text_val_games(val, int(meta["block_size"]), first_plies=first_plies)
        return source, games, meta.get("val", {}).get("games"), f"{val}"

    def test_games(self, dumps: Sequence[str | Path], *, context: int | None, val_fraction: float,
                   seed: int) -> tuple[list[SourceGame], list[int]]:
        from .positions import readable_games

        return readable_games(dumps, context)

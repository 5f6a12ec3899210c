"""The two model families behind one small interface, for the stages after training.

``text`` is the paper's ChessFormer (:mod:`transcendence.model.gpt`): it reads the move list as
characters. ``board`` is the board network (:mod:`transcendence.model.board_network`): it reads the
position. Evaluation, the favor analysis, the t-SNE and the board example ask a model for
the same few things; these functions answer for either family, so those stages stay
written once.
"""

from __future__ import annotations

from typing import Sequence

import chess
import numpy as np
import torch

FAMILIES = ("text", "board")
_PLAYER = {"text": "chessformer", "board": "boardnet"}


def family_of(model: torch.nn.Module) -> str:
    """``board`` for a board network, ``text`` for the ChessFormer."""
    return getattr(model, "family", "text")


def player_name(model: torch.nn.Module, cap: int) -> str:
    """The model's name in PGN headers, e.g. ``chessformer-cap1000`` or ``boardnet-cap400``."""
    return f"{_PLAYER[family_of(model)]}-cap{cap}"


def context_of(model: torch.nn.Module) -> int | None:
    """How many characters of prompt the model can read; None when it reads the board."""
    return None if family_of(model) == "board" else model.config.block_size


def batch_policy(model: torch.nn.Module, *, slots: int, temperature: float, mode: str, max_tries: int):
    """The model playing ``slots`` games at once (``BatchPolicy`` or ``BoardBatchPolicy``)."""
    if family_of(model) == "board":
        from .board_policy import BoardBatchPolicy
        return BoardBatchPolicy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries)
    from .batch_policy import BatchPolicy
    return BatchPolicy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries)


def legal_move_scores(model: torch.nn.Module, board: chess.Board, sans: list[str]
                      ) -> tuple[list[chess.Move], torch.Tensor]:
    """Every legal move and the model's log-score of it (softmax of these at T is its policy)."""
    if family_of(model) == "board":
        from .board_policy import legal_move_scores as board_scores
        return board_scores(model, board)
    from .policy import ModelPolicy
    return ModelPolicy(model, temperature=1.0, mode="legal_moves").legal_move_scores(board, sans)


@torch.no_grad()
def board_hidden_states(model: torch.nn.Module, fens: Sequence[str]) -> np.ndarray:
    """(positions, channels * 64): the board network's trunk output, the layer its move head reads."""
    from ..model.board_encoding import FEATURES, encode

    device = next(model.parameters()).device
    features = np.zeros((len(fens), FEATURES), dtype=np.uint8)
    for row, fen in enumerate(fens):
        encode(chess.Board(fen), features[row])
    hidden = model.hidden(torch.from_numpy(features).to(device))
    return hidden.reshape(len(fens), -1).float().cpu().numpy()

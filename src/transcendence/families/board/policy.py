"""How a network that reads the board chooses a move: a sample at the temperature over the legal moves.

The network's logits of a position's legal moves are normalised into log-probabilities
(the same scores the text family's ``legal_moves`` mode computes from whole-move
probabilities), and one move is drawn from softmax(scores / T) with the game's own
generator. It never forfeits. Many games share one forward pass, and each game's draws
come from its own generator, so batching does not change a game.
"""

from __future__ import annotations

from typing import Sequence

import chess
import numpy as np
import torch

from ...model.board_encoding import FEATURES, encode, legal_moves
from ..base import Request
from ..sampling import Choice, check_sampling, sample


def features_of(boards: Sequence[chess.Board]) -> np.ndarray:
    """(boards, FEATURES) uint8: each board's encoding, the network's input."""
    features = np.zeros((len(boards), FEATURES), dtype=np.uint8)
    for row, board in enumerate(boards):
        encode(board, features[row])
    return features


@torch.no_grad()
def legal_move_scores_batch(model: torch.nn.Module, boards: list[chess.Board]
                            ) -> list[tuple[list[chess.Move], torch.Tensor]]:
    """For each board: its legal moves and their log-probabilities (float64, CPU)."""
    device = next(model.parameters()).device
    features = features_of(boards)
    legal = [legal_moves(board) for board in boards]
    logits = model(torch.from_numpy(features).to(device)).detach().cpu().double()
    out = []
    for row, (moves, indices) in enumerate(legal):
        scores = torch.log_softmax(logits[row, torch.from_numpy(indices.astype(np.int64))], dim=0)
        out.append((moves, scores))
    return out


def legal_move_scores(model: torch.nn.Module, board: chess.Board) -> tuple[list[chess.Move], torch.Tensor]:
    """One position's legal moves and their log-probabilities."""
    return legal_move_scores_batch(model, [board])[0]


class BoardBatchPolicy:
    """A network that reads the board playing ``slots`` games at once at one temperature
    (a :class:`~transcendence.families.base.MovePolicy`). The network keeps no state between
    moves, so a slot needs nothing to start a game.
    """

    def __init__(self, model: torch.nn.Module, *, slots: int, temperature: float, mode: str = "legal_moves",
                 max_tries: int = 1, family: str = "board") -> None:
        check_sampling(mode, temperature)
        if mode != "legal_moves":
            raise ValueError(f"the {family} family samples over legal moves; evaluate.mode must be "
                             f"'legal_moves', not {mode!r}")
        self.model = model.eval()
        self.slots = slots
        self.temperature = temperature

    def new_game(self, slot: int) -> None:
        """Nothing to reset: the network reads the position afresh every move."""

    def step(self, requests: list[Request]) -> dict[int, Choice]:
        """Every requested game's move, from one forward pass."""
        scored = legal_move_scores_batch(self.model, [r.board for r in requests])
        chosen: dict[int, Choice] = {}
        for req, (moves, scores) in zip(requests, scored):
            pick = sample(scores, self.temperature, req.gen)
            chosen[req.slot] = Choice(moves[pick], text=req.board.san(moves[pick]))
        return chosen


@torch.no_grad()
def hidden_states(model: torch.nn.Module, fens: Sequence[str]) -> np.ndarray:
    """(positions, width): the network's ``hidden`` output, the layer its move head reads."""
    device = next(model.parameters()).device
    features = features_of([chess.Board(fen) for fen in fens])
    hidden = model.hidden(torch.from_numpy(features).to(device))
    return hidden.reshape(len(fens), -1).float().cpu().numpy()

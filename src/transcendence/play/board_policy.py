"""How the board network chooses a move: a sample at the temperature over the legal moves.

The network's logits of a position's legal moves are normalised into log-probabilities
(the same scores the text family's ``legal_moves`` mode computes from whole-move
probabilities), and one move is drawn from softmax(scores / T) with the game's own
generator. It never forfeits. Many games share one forward pass, and each game's draws
come from its own generator, so batching does not change a game.
"""

from __future__ import annotations

import chess
import numpy as np
import torch

from ..model.board_encoding import FEATURES, encode, legal_moves
from ..model.board_network import BoardNet
from .sampling import Choice, check_sampling, sample


@torch.no_grad()
def legal_move_scores_batch(model: BoardNet, boards: list[chess.Board]
                            ) -> list[tuple[list[chess.Move], torch.Tensor]]:
    """For each board: its legal moves and their log-probabilities (float64, CPU)."""
    device = next(model.parameters()).device
    features = np.zeros((len(boards), FEATURES), dtype=np.uint8)
    legal = []
    for row, board in enumerate(boards):
        encode(board, features[row])
        legal.append(legal_moves(board))
    logits = model(torch.from_numpy(features).to(device)).detach().cpu().double()
    out = []
    for row, (moves, indices) in enumerate(legal):
        scores = torch.log_softmax(logits[row, torch.from_numpy(indices.astype(np.int64))], dim=0)
        out.append((moves, scores))
    return out


def legal_move_scores(model: BoardNet, board: chess.Board) -> tuple[list[chess.Move], torch.Tensor]:
    """One position's legal moves and their log-probabilities."""
    return legal_move_scores_batch(model, [board])[0]


class BoardBatchPolicy:
    """The board network playing ``slots`` games at once at one temperature.

    The same interface as :class:`transcendence.play.batch_policy.BatchPolicy`; the network keeps
    no state between moves, so a slot needs nothing to start a game.
    """

    def __init__(self, model: BoardNet, *, slots: int, temperature: float, mode: str = "legal_moves",
                 max_tries: int = 1) -> None:
        check_sampling(mode, temperature)
        if mode != "legal_moves":
            raise ValueError(f"the board family samples over legal moves; evaluate.mode must be "
                             f"'legal_moves', not {mode!r}")
        self.model = model.eval()
        self.slots = slots
        self.temperature = temperature

    def new_game(self, slot: int) -> None:
        """Nothing to reset: the network reads the position afresh every move."""

    def step(self, requests: list) -> dict[int, Choice]:
        """Every requested game's move, from one forward pass."""
        scored = legal_move_scores_batch(self.model, [r.board for r in requests])
        chosen: dict[int, Choice] = {}
        for req, (moves, scores) in zip(requests, scored):
            pick = sample(scores, self.temperature, req.gen)
            chosen[req.slot] = Choice(moves[pick], text=req.board.san(moves[pick]))
        return chosen

"""The learnable shared mistake: the legal move a fixed, randomly initialised board network ranks first.

The chess counterpart of the theory's shared noise: a deterministic function of the board
drawn at random from the learner's own class (the project's board network), so a board
network trained on the players' games can learn it, as the toy's learner can learn a shared
``xi`` (docs/PROTOCOL.md). The network is built once per process from the config's seed.
"""

from __future__ import annotations

from functools import lru_cache

import chess
import numpy as np
import torch

from ..model.board_encoding import FEATURES, encode, legal_moves
from ..model.board_network import BoardNet, BoardNetConfig


@lru_cache(maxsize=4)
def random_network(seed: int, channels: int, blocks: int) -> BoardNet:
    """The fixed network of ``seed``; its weights leave the process's global generator untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = BoardNet(BoardNetConfig(channels=channels, blocks=blocks))
    return net.eval()


@torch.no_grad()
def first_choice(net: BoardNet, board: chess.Board) -> chess.Move:
    """The legal move with the network's highest logit (python-chess's order breaks a tie)."""
    features = np.zeros((1, FEATURES), dtype=np.uint8)
    encode(board, features[0])
    moves, indices = legal_moves(board)
    logits = net(torch.from_numpy(features))[0, torch.from_numpy(indices.astype(np.int64))]
    return moves[int(torch.argmax(logits))]

"""A linear policy over the board features: every move's logit is a weighted sum of its from-square's features.

The board network's input planes (pieces, attack counts, castling, en passant, from the side
to move) and output layout (73 move planes per from-square), with nothing in between: one
1x1 convolution, 19 weights and a bias per move plane (1,460 parameters). It sees only the
square a move starts from, so it learns which kinds of move the players prefer from which
kind of square: a baseline the board network should beat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from ...model.board_encoding import INPUT_PLANES, N_PLANES, move_logits, planes


@dataclass(frozen=True)
class LinearConfig:
    """No sizes: the model is fixed by the encoding."""

    def to_dict(self) -> dict:
        return asdict(self)


class LinearPolicy(nn.Module):
    """Position features in, one logit per (from-square, move plane) out, linearly."""

    def __init__(self, config: LinearConfig) -> None:
        super().__init__()
        self.config = config
        self.head = nn.Conv2d(INPUT_PLANES, N_PLANES, 1)

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        """The representation the head reads: the input planes themselves (N, INPUT_PLANES, 8, 8)."""
        return planes(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, N_MOVES) logits, index = square * 73 + plane, from (N, FEATURES) uint8 features."""
        return move_logits(self.head(self.hidden(features)))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on the weights, not on the biases."""
        return [{"params": [self.head.weight], "weight_decay": weight_decay},
                {"params": [self.head.bias], "weight_decay": 0.0}]

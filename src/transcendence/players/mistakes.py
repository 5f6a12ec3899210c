"""How an eps-player errs: its persona's own draw, or the move every player shares.

A mistake is the player's own draw with probability ``1 - share`` (uniform over the legal
moves, or weighted towards the persona's kind of move) and the position's shared move with
probability ``share``. The shared move is the same for every player and a function of the
board alone, chosen by a rule:

- ``network``: the move a fixed, randomly initialised board network ranks first
  (:mod:`.shared_network`): learnable by the board network the study trains;
- ``position_hash``: a uniform legal move drawn from a hash of (seed, position): shared, but
  no feature of an unseen board predicts it, so a finite learner sees it as noise.

``share`` = 0 is independent mistakes (the default); ``share`` = 1 makes every mistake shared.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Mapping

import chess

from ..seeds import game_seed
from .shared_network import first_choice, random_network

PERSONAS = ("uniform", "captures", "pawns")
SHARED_RULES = ("network", "position_hash")
PERSONA_WEIGHT = 4.0  # how much a persona prefers its kind of move over the others


def persona_prefers(board: chess.Board, move: chess.Move, persona: str) -> bool:
    """Whether a persona favours this move."""
    if persona == "captures":
        return board.is_capture(move) or board.gives_check(move)
    if persona == "pawns":
        return board.piece_type_at(move.from_square) == chess.PAWN
    return False


def _persona_weights(board: chess.Board, moves: list[chess.Move], persona: str) -> list[float]:
    return [PERSONA_WEIGHT if persona_prefers(board, m, persona) else 1.0 for m in moves]


def own_distribution(board: chess.Board, persona: str) -> dict[chess.Move, float]:
    """The probability of each legal move being the player's own (unshared) mistake."""
    moves = list(board.legal_moves)
    weights = _persona_weights(board, moves, persona)
    total = sum(weights)
    return {m: w / total for m, w in zip(moves, weights)}


def own_mistake(board: chess.Board, rng: random.Random, persona: str) -> chess.Move:
    """A draw from :func:`own_distribution` with the game's generator."""
    moves = list(board.legal_moves)
    if persona == "uniform":  # one draw of the generator, as a uniform mover has always made
        return rng.choice(moves)
    return rng.choices(moves, _persona_weights(board, moves, persona))[0]


@dataclass(frozen=True)
class MistakeRule:
    """Which share of every player's mistakes is the shared move, and how that move is chosen."""

    share: float = 0.0
    shared: str = "network"
    seed: int = 0
    channels: int = 8          # the shared network's size (rule ``network``)
    blocks: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.share, (int, float)) and math.isfinite(self.share) and 0.0 <= self.share <= 1.0):
            raise ValueError(f"synthetic.mistakes.share must lie in [0, 1]; got {self.share!r}")
        if self.shared not in SHARED_RULES:
            raise ValueError(f"synthetic.mistakes.shared {self.shared!r} is not one of {SHARED_RULES}")

    @classmethod
    def from_config(cls, mistakes: Mapping[str, object] | None, seed: int) -> "MistakeRule":
        """The config's ``synthetic.mistakes`` section (absent: independent mistakes)."""
        if not mistakes:
            return cls(seed=seed)
        network = dict(mistakes.get("network", {}))  # type: ignore[arg-type]
        return cls(share=float(mistakes.get("share", cls.share)), shared=str(mistakes.get("shared", cls.shared)),
                   seed=seed, channels=int(network.get("channels", cls.channels)),
                   blocks=int(network.get("blocks", cls.blocks)))

    def to_config(self) -> dict[str, object]:
        """What decides the rule, as outputs and fingerprints record it."""
        out: dict[str, object] = {"share": self.share, "shared": self.shared}
        if self.shared == "network":
            out["network"] = {"channels": self.channels, "blocks": self.blocks}
        return out

    @property
    def independent(self) -> bool:
        return self.share == 0.0

    def shared_move(self, board: chess.Board) -> chess.Move:
        """The move every erring player plays here under this rule: a function of the board alone."""
        if self.shared == "position_hash":
            key = hashlib.sha256(f"{self.seed}/{board.epd()}".encode()).digest()
            return random.Random(int.from_bytes(key[:8], "big")).choice(list(board.legal_moves))
        net = random_network(game_seed(self.seed, "shared mistakes network"), self.channels, self.blocks)
        return first_choice(net, board)

    def draw(self, board: chess.Board, rng: random.Random, persona: str) -> chess.Move:
        """One mistake. The generator is drawn only where the share leaves a choice, so
        ``share`` = 0 makes exactly the draws of independent mistakes."""
        if self.share == 1.0 or (self.share > 0.0 and rng.random() < self.share):
            return self.shared_move(board)
        return own_mistake(board, rng, persona)

    def distribution(self, board: chess.Board, persona: str) -> dict[chess.Move, float]:
        """The probability of each legal move being a mistake: what :meth:`draw` draws from."""
        out = {m: (1.0 - self.share) * p for m, p in own_distribution(board, persona).items()} \
            if self.share < 1.0 else {}
        if self.share > 0.0:
            shared = self.shared_move(board)
            out[shared] = out.get(shared, 0.0) + self.share
        return out


INDEPENDENT = MistakeRule()

"""The positions where the model was to move in its evaluation games.

The paper's favor analysis and t-SNE look at the model in the positions it actually met:
those of its games against the weakest opponent at the lowest temperature. A position is
kept only if the model could still answer in it (its prompt plus the longest move fits the
context), the same rule that ends an evaluation game at the context limit. A position where
the model forfeited (no legal move in its tries) counts too: a model that fails there is
exactly what the analysis should see, and a barely trained model fails in most of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import chess
import numpy as np

from ..pgn.stream import iter_games
from ..pgn.text import movetext_to_text, prompt_for, text_to_sans
from ..families import model_player
from ..families.sampling import MAX_MOVE_CHARS

ASKED_AT_THE_END = ("forfeit", "resigned")   # evaluate's terminations where the model was to move


@dataclass(frozen=True)
class Position:
    game: int                 # index of the game in its file
    ply: int                  # moves played before this position
    sans: tuple[str, ...]     # the game so far, the model's prompt
    fen: str

    @property
    def prompt(self) -> str:
        return prompt_for(list(self.sans))


def model_positions(pgn: str | Path, context: int | None) -> list[Position]:
    """Every position of the file's games that was put to the model, in game order: those
    where it moved, and the last one of a game it forfeited or resigned. ``context`` None:
    the model reads the board, and every position fits."""
    positions: list[Position] = []
    for index, game in enumerate(iter_games(pgn)):
        if game.malformed:
            raise ValueError(f"{pgn}: game {index + 1} (line {game.line}) is malformed: {game.malformed}")
        white, black = game.tags.get("White", ""), game.tags.get("Black", "")
        if model_player(white) == model_player(black):
            raise ValueError(f"{pgn}: game {index + 1} (line {game.line}) has no single model player "
                             f"(White {white!r}, Black {black!r})")
        model_color = chess.WHITE if model_player(white) else chess.BLACK
        sans = text_to_sans(movetext_to_text(game.movetext))
        board = chess.Board()
        # The game's last position was put to the model too when it ended by the model's
        # failure to move (forfeit) or its resignation.
        asked_last = game.tags.get("Termination") in ASKED_AT_THE_END
        for ply, san in enumerate(sans + [None]):
            if board.turn == model_color and (san is not None or asked_last) and not board.is_game_over():
                if context is not None and len(prompt_for(sans[:ply])) + MAX_MOVE_CHARS > context:
                    break
                positions.append(Position(index, ply, tuple(sans[:ply]), board.fen()))
            if san is None:
                break
            try:
                board.push_san(san)
            except ValueError as exc:
                raise ValueError(f"{pgn}: game {index + 1}, ply {ply + 1} {san!r} is illegal: {exc}") from exc
    return positions


def pick_positions(positions: list[Position], n: int | None, seed: int) -> list[Position]:
    """A seeded random subset of ``n`` positions (all when ``n`` is None or larger).

    The order is one seeded permutation, so a smaller subset is a prefix of a larger one:
    analyses that ask for different numbers of positions share their engine searches.
    """
    order = np.random.default_rng(seed).permutation(len(positions))
    if n is not None:
        order = order[:n]
    return [positions[i] for i in order]

"""Which positions of a game the ChessFormer can read, and the games its test positions come from."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...pgn.stream import iter_games
from ...pgn.text import movetext_to_text, prompt_for, text_to_sans
from ..base import SourceGame
from ..sampling import MAX_MOVE_CHARS


def fits(sans: Sequence[str], context: int) -> bool:
    """Whether the prompt of the game so far leaves room for a move in ``context`` characters
    (the evaluation ends a game at the context limit by this rule)."""
    return len(prompt_for(list(sans))) + MAX_MOVE_CHARS <= context


def readable_plies(sans: Sequence[str], context: int) -> int:
    """How many leading positions of a game the model can read: those whose prompt plus the
    longest move fits its context, found by bisection because the prompt only grows."""
    if not fits([], context):
        return 0
    lo, hi = 0, len(sans) - 1          # the largest fitting ply lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(sans[:mid], context):
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def readable_games(dumps: Sequence[str | Path], context: int | None) -> tuple[list[SourceGame], list[int]]:
    """Every readable game of the dumps, each with how many of its positions the model reads.

    The packed text dataset keeps no game identity, so these are not held out: the model
    may have trained on them.
    """
    games: list[SourceGame] = []
    plies: list[int] = []
    for dump, path in enumerate(dumps):
        for index, game in enumerate(iter_games(path)):
            try:
                sans = text_to_sans(movetext_to_text(game.movetext))
            except ValueError:
                continue
            n = readable_plies(sans, context) if sans and context is not None else len(sans)
            if n:
                games.append((dump, index, sans))
                plies.append(n)
    return games, plies

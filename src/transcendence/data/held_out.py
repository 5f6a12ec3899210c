"""A cap's held-out (val) games as SAN move lists, read from a dataset.

Every dataset splits whole games into train and val, so the val games are games the model
never trained on. Each family says where its val games are (``Family.held_out_games``):

- the board positions: the games :func:`.board_positions.val_games` re-draws from the cap's
  dumps, exactly as the dataset drew them;
- the packed text blocks: the val token file itself, decoded (:func:`text_val_games`). A
  block holds games one after the other, each starting with ``;``, then spaces to the
  block's end; a game longer than a block was cut at the block's end, so the last move of a
  game that reaches its block's end is dropped (it may be cut short).

Either way the number of games read is checked against the dataset's ``meta.json``
(:func:`counted`), so a dataset built from other data or another split is an error, not a
silent other draw. This module reads; it draws nothing (the opening suites,
:mod:`transcendence.play.openings`, do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..pgn.text import text_to_sans
from ..pgn.vocab import GAME_START, SPACE_ID, VOCAB
from .packing import load_blocks

_CHUNK_BLOCKS = 4096
_ID_TO_CHAR = bytes.maketrans(bytes(range(len(VOCAB))), VOCAB.encode("ascii"))


def text_val_games(val: str | Path, block_size: int, *, first_plies: int | None = None
                   ) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Each game of a packed val token file, in file order: ({"val_game": its ordinal}, SANs).

    ``first_plies`` reads only that many moves of each game (the rest is not parsed). A game
    whose text is not the paper's format yields no moves (it is counted, never drawn).
    """
    blocks = load_blocks(val, block_size)
    ordinal = 0
    for start in range(0, len(blocks), _CHUNK_BLOCKS):
        for row in np.asarray(blocks[start:start + _CHUNK_BLOCKS]):
            text = row.tobytes().translate(_ID_TO_CHAR).decode("ascii")
            pieces = text.split(GAME_START)[1:]  # a block starts with a game
            full = row[-1] != SPACE_ID  # the last game reaches the block's end: maybe cut
            for j, piece in enumerate(pieces):
                # Only the moves wanted are split off; a move followed by another is whole.
                tokens = piece.rstrip(" ").split(" ", -1 if first_plies is None else first_plies)
                if first_plies is not None and len(tokens) > first_plies:
                    tokens.pop()  # the rest of the game
                elif full and j == len(pieces) - 1:
                    tokens.pop()  # the game's last move, maybe cut at the block's end
                try:
                    sans = text_to_sans(GAME_START + " ".join(tokens)) if tokens else []
                except ValueError:
                    sans = []
                yield {"val_game": ordinal}, sans
                ordinal += 1


def counted(games: Iterator[tuple[dict[str, Any], list[str]]], expected: int | None, what: str
            ) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """``games``, then ``ValueError`` at their end when there were not ``expected`` of them (the
    number the dataset's meta.json says it held out; None checks nothing)."""
    n = 0
    for item in games:
        n += 1
        yield item
    if expected is not None and n != expected:
        raise ValueError(f"{what}: {n} held-out games, but the dataset's meta.json says it held out {expected}: "
                         "the data or dataset.val_fraction/seed changed since the dataset was built")

"""Helpers only the tests use, kept out of the package so that it holds what the workflow runs.

Each wraps a streaming piece of the package in the in-memory form a test wants to assert on;
the workflow itself never holds a whole dataset or dump in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
from typing import Iterator, Sequence, TextIO

import chess
import chess.pgn
import numpy as np

from transcendence.data.packing import BlockPacker
from transcendence.files import open_binary
from transcendence.pgn.text import sans_to_text
from transcendence.players.player import Player


def pack_blocks(texts: Sequence[str | bytes], block_size: int) -> tuple[np.ndarray, int]:
    """Pack games into ``(n_blocks, block_size)`` uint8 tokens with :class:`BlockPacker`'s
    rule, in memory; return (blocks, number of truncated games)."""
    buffer = io.BytesIO()
    packer = BlockPacker(buffer, block_size)
    for text in texts:
        packer.add(text)
    stats = packer.close()
    blocks = np.frombuffer(bytearray(buffer.getbuffer()), dtype=np.uint8).reshape(-1, block_size)
    return blocks, stats["truncated_games"]


@contextlib.contextmanager
def open_text(path: str | os.PathLike) -> Iterator[TextIO]:
    """Read a text file, decompressing ``.zst`` as a stream (the package's
    :func:`~transcendence.files.open_binary`, decoded as UTF-8)."""
    with open_binary(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline=None)


def game_to_text(game: chess.pgn.Game) -> str:
    """Paper text of a python-chess game's mainline: the slow, trusted reference the tests
    hold :func:`~transcendence.pgn.text.movetext_to_text` (string-only, fast) against.

    SAN comes from python-chess, so it is canonical (correct disambiguation
    and check marks) even if the source PGN was sloppy.

    :raises ValueError: if the game does not start from the standard
        position, since the paper format has no way to encode that.
    """
    board = game.board()
    if board.fen() != chess.STARTING_FEN:
        raise ValueError(f"game does not start from the standard position: {board.fen()}")
    sans: list[str] = []
    for move in game.mainline_moves():
        sans.append(board.san(move))
        board.push(move)
    return sans_to_text(sans)


def random_mover(name: str = "random", rating: float = 0.0) -> Player:
    """The uniform random mover as a calibration anchor: the natural zero of a rating scale."""
    return Player(name=name, rating=rating, limit={"depth": 1}, eps=1.0)


def random_game(rng: random.Random, plies: int) -> list[str]:
    """A game of uniformly random legal moves (SAN), ``plies`` long unless it ends sooner."""
    board, sans = chess.Board(), []
    while len(sans) < plies and not board.is_game_over():
        move = rng.choice(list(board.legal_moves))
        sans.append(board.san(move))
        board.push(move)
    return sans

"""Helpers only the tests use, kept out of the package so that it holds what the workflow runs.

Each wraps a streaming piece of the package in the in-memory form a test wants to assert on;
the workflow itself never holds a whole dataset or dump in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Iterator, Sequence, TextIO

import numpy as np

from transcendence.data.packing import BlockPacker
from transcendence.files import open_binary


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

"""Serialise filtered games into the paper's text and pack them into token blocks.

STUDY.md's packing: blocks of 1024 characters (the model sees 1023 and predicts the next
one); a game that does not fit in what is left of a block starts at the beginning of the
next block; longer games are truncated; 95/5 train/val split by game. The rest of a block
is padded with spaces (id 0), which the model learns to emit after a game, harmlessly,
since a move ends at the first space anyway. Blocks are stored as flat ``uint8`` token
files that training memory-maps.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import numpy as np

from .files import atomic_path, write_json
from .pgn_stream import iter_games
from .pgn_text import movetext_to_text
from .vocab import GAME_START, SPACE_ID, VOCAB, encode


def game_texts(dumps: Iterable[str | Path], log: TextIO = sys.stderr) -> tuple[list[str], dict[str, int]]:
    """Paper-format text of every game in ``dumps``; games that cannot be read are counted."""
    texts: list[str] = []
    skipped = 0
    for dump in dumps:
        for game in iter_games(dump):
            try:
                text = movetext_to_text(game.movetext)
            except ValueError as exc:
                skipped += 1
                if skipped <= 5:
                    print(f"[dataset] skipping game at {dump}:{game.line}: {exc}", file=log)
                continue
            if not text.startswith(GAME_START):
                text = GAME_START + text
            if len(text) > 1:
                texts.append(text)
    return texts, {"games": len(texts), "skipped_unreadable": skipped}


def pack_blocks(texts: Sequence[str], block_size: int) -> tuple[np.ndarray, int]:
    """Pack games into ``(n_blocks, block_size)`` uint8 tokens; return (blocks, truncated)."""
    blocks: list[np.ndarray] = []
    current = np.full(block_size, SPACE_ID, dtype=np.uint8)
    used = 0
    truncated = 0
    for text in texts:
        ids = encode(text)
        if len(ids) > block_size:
            ids = ids[:block_size]
            truncated += 1
        if used + len(ids) > block_size:
            blocks.append(current)
            current = np.full(block_size, SPACE_ID, dtype=np.uint8)
            used = 0
        current[used:used + len(ids)] = ids
        used += len(ids)
    if used:
        blocks.append(current)
    if not blocks:
        return np.zeros((0, block_size), dtype=np.uint8), truncated
    return np.stack(blocks), truncated


def _write_tokens(target: str | Path, blocks: np.ndarray) -> None:
    with atomic_path(target) as tmp:
        blocks.astype(np.uint8).tofile(tmp)


def build_dataset(dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                  meta_out: str | Path, *, block_size: int, val_fraction: float, seed: int,
                  log: TextIO = sys.stderr) -> dict[str, object]:
    """Serialise, shuffle (seeded), split by game and pack; write token files and metadata."""
    texts, counts = game_texts(dumps, log)
    if len(texts) < 2:
        raise ValueError(f"only {len(texts)} usable games in {list(map(str, dumps))}: "
                         "too few to split into train and val (lower the cap or add games)")
    random.Random(seed).shuffle(texts)
    n_val = max(1, round(len(texts) * val_fraction))
    val, train = texts[:n_val], texts[n_val:]
    meta: dict[str, object] = {"vocab": VOCAB, "block_size": block_size, "seed": seed, **counts}
    for name, part, out in (("train", train, train_out), ("val", val, val_out)):
        blocks, truncated = pack_blocks(part, block_size)
        _write_tokens(out, blocks)
        meta[name] = {
            "games": len(part), "blocks": int(blocks.shape[0]), "tokens": int(blocks.size),
            "game_chars": int(sum(len(t) for t in part)), "truncated_games": truncated,
        }
        print(f"[dataset] {name}: {len(part)} games -> {blocks.shape[0]} blocks of {block_size} "
              f"({truncated} truncated)", file=log, flush=True)
    write_json(meta_out, meta)
    return meta


def load_blocks(path: str | Path, block_size: int) -> np.ndarray:
    """Memory-map a token file written by :func:`build_dataset` as ``(n, block_size)``."""
    flat = np.memmap(path, dtype=np.uint8, mode="r")
    if flat.size % block_size:
        raise ValueError(f"{path}: {flat.size} tokens is not a multiple of the block size {block_size}")
    return flat.reshape(-1, block_size)

"""Packing games into blocks as the paper does, and the dataset stage on real files."""

from __future__ import annotations

import json

import numpy as np
import zstandard

from transcendence.packing import build_dataset, load_blocks, pack_blocks
from transcendence.vocab import SPACE_ID, decode


def test_a_game_that_does_not_fit_starts_the_next_block():
    blocks, truncated = pack_blocks([";1.e4 e5", ";1.d4", ";1.c4 c5"], block_size=14)
    assert truncated == 0
    assert [decode(b) for b in blocks] == [";1.e4 e5;1.d4 ", ";1.c4 c5      "]


def test_long_games_are_truncated_and_counted():
    blocks, truncated = pack_blocks([";1.e4 e5 2.Nf3 Nc6", ";1.d4"], block_size=8)
    assert truncated == 1
    assert decode(blocks[0]) == ";1.e4 e5"
    assert decode(blocks[1]).startswith(";1.d4")
    assert blocks.dtype == np.uint8 and (blocks[1][5:] == SPACE_ID).all()


def test_build_dataset_is_deterministic_and_splits_by_game(tmp_path):
    games = "".join(
        f'[White "a"]\n[Black "b"]\n[Result "1-0"]\n[WhiteElo "500"]\n[BlackElo "500"]\n\n'
        f"1. e4 e5 2. Nf3 Nc{(i % 6) + 1} 1-0\n\n" for i in range(60))
    dump = tmp_path / "d.pgn.zst"
    dump.write_bytes(zstandard.ZstdCompressor().compress(games.encode()))

    def build(name: str, seed: int):
        out = tmp_path / name
        meta = build_dataset([dump], out / "train.bin", out / "val.bin", out / "meta.json",
                             block_size=64, val_fraction=0.1, seed=seed)
        return meta, (out / "train.bin").read_bytes(), (out / "val.bin").read_bytes()

    a, b, c = build("a", 1), build("b", 1), build("c", 2)
    assert a[1:] == b[1:]                 # same seed, same bytes
    assert a[1:] != c[1:]                 # another seed, another order
    meta = a[0]
    assert meta["train"]["games"] + meta["val"]["games"] == 60 and meta["val"]["games"] == 6
    blocks = load_blocks(tmp_path / "a" / "train.bin", 64)
    assert blocks.shape[1] == 64 and all(decode(r).startswith(";1.e4 e5 2.Nf3 Nc") for r in blocks)
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["block_size"] == 64

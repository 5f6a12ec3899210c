"""Packing games into blocks as the paper does, and the dataset stage on real files."""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import zstandard

from transcendence.data.packing import BlockPacker, build_dataset, load_blocks, shuffled
from transcendence.pgn.stream import DumpError, iter_games
from transcendence.pgn.text import movetext_to_text
from transcendence.pgn.vocab import GAME_START, SPACE_ID, decode, encode

from .helpers import pack_blocks


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
                             block_size=64, val_fraction=0.1, seed=seed, shuffle_bucket_mb=1.0)
        return meta, (out / "train.bin").read_bytes(), (out / "val.bin").read_bytes()

    a, b, c = build("a", 1), build("b", 1), build("c", 2)
    assert a[1:] == b[1:]                 # same seed, same bytes
    assert a[1:] != c[1:]                 # another seed, another order
    meta = a[0]
    assert meta["train"]["games"] + meta["val"]["games"] == 60 and meta["val"]["games"] == 6
    blocks = load_blocks(tmp_path / "a" / "train.bin", 64)
    assert blocks.shape[1] == 64 and all(decode(r).startswith(";1.e4 e5 2.Nf3 Nc") for r in blocks)
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["block_size"] == 64


# --- The in-memory algorithm that build_dataset replaced, kept as the reference for K = 1. ---

def _old_pack_blocks(texts, block_size):
    blocks, current, used, truncated = [], np.full(block_size, SPACE_ID, dtype=np.uint8), 0, 0
    for text in texts:
        ids = encode(text)
        if len(ids) > block_size:
            ids, truncated = ids[:block_size], truncated + 1
        if used + len(ids) > block_size:
            blocks.append(current)
            current, used = np.full(block_size, SPACE_ID, dtype=np.uint8), 0
        current[used:used + len(ids)] = ids
        used += len(ids)
    if used:
        blocks.append(current)
    return (np.stack(blocks) if blocks else np.zeros((0, block_size), dtype=np.uint8)), truncated


def _old_build(dumps, block_size, val_fraction, seed):
    texts = []
    for dump in dumps:
        for game in iter_games(dump):
            try:
                text = movetext_to_text(game.movetext)
            except ValueError:
                continue
            if not text.startswith(GAME_START):
                text = GAME_START + text
            if len(text) > 1:
                texts.append(text)
    random.Random(seed).shuffle(texts)
    n_val = max(1, round(len(texts) * val_fraction))
    return {name: _old_pack_blocks(part, block_size) for name, part in
            (("train", texts[n_val:]), ("val", texts[:n_val]))}


SANS = ["e4", "d5", "Nf3", "Bb5+", "O-O", "O-O-O", "exd5", "Qxf7#", "a8=Q", "hxg1=N+", "Rae1", "Kh1"]


def _random_dumps(tmp_path: Path, n_games: int, seed: int) -> list[Path]:
    """Two dumps (one .pgn.zst, one plain .pgn) of distinct games of varied lengths.

    The moves need not be legal: serialisation works on the text. Some games are longer
    than the blocks used below (truncated), one has no moves and one cannot be read.
    """
    rng = random.Random(seed)
    games = []
    for i in range(n_games):
        plies = [rng.choice(SANS) for _ in range(0 if i == 7 else rng.randint(1, 60))]
        moves = " ".join(f"{p // 2 + 1}. {san}" if p % 2 == 0 else san for p, san in enumerate(plies))
        if i == 11:
            moves = "1. e4 ?? junk"
        games.append(f'[Event "g{i}"]\n[Result "*"]\n\n{moves} *\n\n')
    half = n_games // 2
    zst, plain = tmp_path / "a.pgn.zst", tmp_path / "b.pgn"
    zst.write_bytes(zstandard.ZstdCompressor().compress("".join(games[:half]).encode()))
    plain.write_text("".join(games[half:]))
    return [zst, plain]


def _build(dumps, out: Path, seed: int, bucket_mb: float, block_size: int = 256, workers: int = 1,
           log: io.StringIO | None = None):
    meta = build_dataset(dumps, out / "train.bin", out / "val.bin", out / "meta.json", block_size=block_size,
                         val_fraction=0.1, seed=seed, shuffle_bucket_mb=bucket_mb, workers=workers,
                         log=log if log is not None else io.StringIO())
    return meta, (out / "train.bin").read_bytes(), (out / "val.bin").read_bytes()


def test_one_bucket_gives_the_bytes_of_the_in_memory_algorithm(tmp_path):
    dumps = _random_dumps(tmp_path, 400, seed=3)
    for seed in (0, 20240611):
        meta, train, val = _build(dumps, tmp_path / f"new{seed}", seed, bucket_mb=1024.0)
        old = _old_build(dumps, 256, 0.1, seed)
        assert meta["shuffle_buckets"] == 1
        assert train == old["train"][0].tobytes() and val == old["val"][0].tobytes()
        assert meta["train"]["truncated_games"] == old["train"][1] > 0
        assert meta["skipped_unreadable"] == 1 and meta["games"] == 398


def test_many_buckets_place_every_game_once_deterministically(tmp_path):
    dumps = _random_dumps(tmp_path, 400, seed=4)
    expected = Counter(movetext_to_text(g.movetext) for d in dumps for g in iter_games(d)
                       if g.movetext != "1. e4 ?? junk *" and movetext_to_text(g.movetext) != GAME_START)
    a, b, c = (_build(dumps, tmp_path / name, seed, bucket_mb=0.002, block_size=1024)
               for name, seed in (("a", 5), ("b", 5), ("c", 6)))
    one = _build(dumps, tmp_path / "one", 5, bucket_mb=1024.0, block_size=1024)
    meta = a[0]
    assert meta["shuffle_buckets"] >= 8
    assert a[1:] == b[1:] and a[1:] != c[1:] and a[1:] != one[1:]
    n = sum(expected.values())
    assert meta["games"] == n and meta["val"]["games"] == max(1, round(n * 0.1))
    assert meta["train"]["games"] + meta["val"]["games"] == n and meta["train"]["truncated_games"] == 0
    found = Counter()
    for split in ("train", "val"):
        for block in load_blocks(tmp_path / "a" / f"{split}.bin", 1024):
            found.update(GAME_START + g.rstrip(" ") for g in decode(block).split(GAME_START)[1:])
    assert found == expected
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # temp files gone


def test_an_over_full_bucket_is_split_again_and_still_shuffled(tmp_path):
    lines = [f";{i}.e4".encode() for i in range(2000)]
    bucket = tmp_path / "bucket"

    def run(limit: float) -> list[bytes]:
        bucket.write_bytes(b"\n".join(lines) + b"\n")
        return list(shuffled([bucket], limit, random.Random(1), random.Random(2)))

    size = sum(len(line) + 1 for line in lines)
    whole, split, again = run(1e9), run(size / 10), run(size / 10)
    assert sorted(whole) == sorted(split) == sorted(lines)
    assert split == again and split != whole
    assert not list(tmp_path.iterdir())  # buckets are deleted once read


def test_a_failed_build_leaves_no_temporary_files_and_no_outputs(tmp_path):
    dump = tmp_path / "d.pgn"
    dump.write_text('[Event "x"]\n[Result "*"]\n\n1. e4 *\n\n')
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="only 1 usable games"):
        _build([dump], out, 0, bucket_mb=0.0001)
    assert list(out.iterdir()) == []


def test_parallel_pass_one_gives_the_bytes_of_one_process(tmp_path):
    """Each dump scatters with its own generator, so the result ignores the number of workers."""
    dumps = _random_dumps(tmp_path, 400, seed=8)
    for bucket_mb in (0.002, 1024.0):
        log = io.StringIO()
        one = _build(dumps, tmp_path / f"one{bucket_mb}", 9, bucket_mb, block_size=1024)
        two = _build(dumps, tmp_path / f"two{bucket_mb}", 9, bucket_mb, block_size=1024, workers=2, log=log)
        assert (one[0]["shuffle_buckets"] > 1) == (bucket_mb < 1)
        assert one[1:] == two[1:] and one[0] == two[0]
        assert two[0]["skipped_unreadable"] == 1 and two[0]["games"] == 398
        # The workers' progress reaches the caller's log: one line per dump, then the total.
        for i, dump in enumerate(dumps):
            assert f"pass 1 (serialise), dump {i + 1} of 2 ({dump}): done" in log.getvalue()
        assert "pass 1 (serialise): done, 400 games read, 398 kept, 1 unreadable" in log.getvalue()
    # With one bucket, two workers still give the in-memory algorithm's bytes.
    old = _old_build(dumps, 1024, 0.1, 9)
    assert two[1] == old["train"][0].tobytes() and two[2] == old["val"][0].tobytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_corrupt_dump_fails_the_build_naming_it_and_leaves_nothing(tmp_path, workers):
    good, other = _random_dumps(tmp_path, 400, seed=10)
    corrupt = tmp_path / "corrupt.pgn.zst"
    whole = good.read_bytes()
    corrupt.write_bytes(whole[:len(whole) // 2])  # a truncated download
    out = tmp_path / "out"
    with pytest.raises(DumpError, match=f"{corrupt}: corrupt or truncated zstd stream"):
        _build([good, corrupt, other], out, 0, bucket_mb=0.002, workers=workers)
    assert list(out.iterdir()) == []


def test_the_streaming_packer_packs_as_the_reference_in_any_batch_size():
    rng = random.Random(7)
    texts = [";" + "e4 " * rng.randint(0, 12) for _ in range(300)] + [";" + "d" * 31, ";" + "c" * 40]
    reference, truncated = _old_pack_blocks(texts, 32)
    assert truncated == sum(len(t) > 32 for t in texts) > 0
    for batch in (1, 3, 4096):
        out = io.BytesIO()
        packer = BlockPacker(out, 32, batch_blocks=batch)
        for text in texts:
            packer.add(text)
        stats = packer.close()
        assert out.getvalue() == reference.tobytes()
        assert stats["blocks"] == reference.shape[0] and stats["truncated_games"] == truncated
    assert np.array_equal(pack_blocks(texts, 32)[0], reference)
    with pytest.raises(ValueError, match="'!'"):
        pack_blocks([";1.e4!"], 32)

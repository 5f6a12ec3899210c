"""(position, move played) pairs from a cap's filtered games, for the board network.

Every game of the cap's dumps is replayed with python-chess; each position before a move
becomes one example: its features (:mod:`.encoding`), the index of the move the player
chose, and the indices of all legal moves there (so training can mask the illegal ones).
Whole games go to train or val (a seeded draw per game), so no val position shares a game
with a training one. A game holding an illegal or unreadable move is dropped whole and
counted.

Streaming: each dump's examples are written to raw files beside the outputs as they are
made (``workers`` processes, one dump each), and the outputs are assembled from them, so
memory does not grow with the number of games. The result depends on the dumps, their
order and the seed, never on ``workers``.

File format (``.pos``): four arrays one after the other, each in NumPy's ``.npy`` format
(``np.save`` to one handle, ``np.load`` four times from it): features (N, FEATURES) uint8,
moves (N,) uint16, legal (M,) uint16 and offsets (N + 1,) int64 (position i's legal moves
are ``legal[offsets[i]:offsets[i + 1]]``). ``.npy`` headers hold no dates, so the same
games give the same bytes.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence, TextIO

import chess
import numpy as np

from ..files import atomic_path, write_json
from ..model.board_encoding import FEATURES, encode, legal_moves
from ..pgn.stream import RawGame, iter_games
from ..pgn.text import movetext_to_text, text_to_sans

ARRAYS = ("features", "moves", "legal", "offsets")
_PROGRESS_EVERY = 2000


@dataclass
class Positions:
    """A loaded ``.pos`` file."""

    features: np.ndarray
    moves: np.ndarray
    legal: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.moves)


def load_positions(path: str | Path) -> Positions:
    """Read a ``.pos`` file, checking that its four arrays agree."""
    with open(path, "rb") as fh:
        try:
            arrays = [np.load(fh) for _ in ARRAYS]
        except (ValueError, EOFError) as exc:
            raise ValueError(f"{path}: not a complete positions file ({exc})") from exc
    pos = Positions(*arrays)
    n = len(pos.moves)
    if pos.features.shape != (n, FEATURES) or pos.offsets.shape != (n + 1,) or pos.offsets[-1] != len(pos.legal):
        raise ValueError(f"{path}: arrays disagree (features {pos.features.shape}, moves {n}, "
                         f"offsets {pos.offsets.shape}, legal {len(pos.legal)})")
    return pos


def game_examples(sans: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One game's examples: features, moves played, legal move indices per position.

    Raises ValueError on an illegal or unparsable move.
    """
    board = chess.Board()
    features = np.zeros((len(sans), FEATURES), dtype=np.uint8)
    moves = np.zeros(len(sans), dtype=np.uint16)
    legal: list[np.ndarray] = []
    for ply, san in enumerate(sans):
        move = board.parse_san(san)
        encode(board, features[ply])
        candidates, indices = legal_moves(board)
        moves[ply] = indices[candidates.index(move)]
        legal.append(indices)
        board.push(move)
    return features, moves, legal


class _RawWriter:
    """Appends one split's examples to raw files in a work folder."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, BinaryIO] = {name: open(folder / f"{name}.raw", "wb") for name in ARRAYS[:3]}
        self.counts = open(folder / "counts.raw", "wb")

    def add(self, features: np.ndarray, moves: np.ndarray, legal: list[np.ndarray]) -> None:
        self.files["features"].write(features.tobytes())
        self.files["moves"].write(moves.tobytes())
        self.files["legal"].write(np.concatenate(legal).tobytes() if legal else b"")
        self.counts.write(np.array([len(ix) for ix in legal], dtype=np.uint16).tobytes())

    def close(self) -> None:
        for fh in [*self.files.values(), self.counts]:
            fh.close()


def split_seed(seed: int, dump_index: int) -> str:
    """The seed of one dump's train/val draws (the dump's place in the dataset's input order)."""
    return f"{seed}/board-split/{dump_index}"


def split_games(dump: str | Path, val_fraction: float, seed: str) -> Iterator[tuple[str, RawGame]]:
    """Each game of ``dump`` in file order with its split, ``"train"`` or ``"val"``.

    One draw per game, made before the game is read, so a game that is later dropped
    (unreadable, illegal) does not move the others' splits. The dataset and the analyses
    that need its held-out games (the expected-reward stage) share this function, so they
    cannot disagree about which games were held out.
    """
    rng = random.Random(seed)
    for game in iter_games(dump):
        yield ("val" if rng.random() < val_fraction else "train"), game


def val_games(dumps: Sequence[str | Path], *, val_fraction: float, seed: int) -> Iterator[tuple[int, int, list[str]]]:
    """(dump index, game index in its file, SAN moves) of every game whose positions
    :func:`build_positions` writes to the val file, in that file's order."""
    for i, dump in enumerate(dumps):
        for index, (split, game) in enumerate(split_games(dump, val_fraction, split_seed(seed, i))):
            if split != "val":
                continue
            try:
                sans = text_to_sans(movetext_to_text(game.movetext))
                game_examples(sans)  # the dataset drops a game with an illegal move whole
            except ValueError:
                continue
            if sans:
                yield i, index, sans


def train_positions_by_player(dumps: Sequence[str | Path], *, val_fraction: float, seed: int) -> dict[str, int]:
    """How many of the training file's positions each player (PGN ``White``/``Black``) moved in.

    The training split of :func:`split_games`; a game is counted as the dataset reads it
    (an unreadable one is dropped), without replaying it: a synthetic game is legal.
    """
    counts: dict[str, int] = {}
    for i, dump in enumerate(dumps):
        for split, game in split_games(dump, val_fraction, split_seed(seed, i)):
            if split != "train":
                continue
            try:
                plies = len(text_to_sans(movetext_to_text(game.movetext)))
            except ValueError:
                continue
            for name, moves in ((game.tags.get("White", "?"), (plies + 1) // 2), (game.tags.get("Black", "?"), plies // 2)):
                counts[name] = counts.get(name, 0) + moves
    return counts


def _dump_examples(dump: str, folder: str, val_fraction: float, seed: str) -> dict[str, int]:
    """Pass 1 for one dump: its games' examples into ``folder``/train and ``folder``/val."""
    writers = {split: _RawWriter(Path(folder) / split) for split in ("train", "val")}
    stats = {"games": 0, "positions": 0, "val_games": 0, "skipped_unreadable": 0, "skipped_illegal": 0}
    try:
        for split, game in split_games(dump, val_fraction, seed):
            try:
                sans = text_to_sans(movetext_to_text(game.movetext))
            except ValueError:
                stats["skipped_unreadable"] += 1
                continue
            try:
                features, moves, legal = game_examples(sans)
            except ValueError:
                stats["skipped_illegal"] += 1
                continue
            if not len(moves):
                continue
            writers[split].add(features, moves, legal)
            stats["games"] += 1
            stats["val_games"] += split == "val"
            stats["positions"] += len(moves)
    finally:
        for w in writers.values():
            w.close()
    return stats


def _assemble(folders: Sequence[Path], out: Path) -> int:
    """Write the ``.pos`` file of one split from the dumps' raw files, in dump order."""
    def raw(name: str, dtype, width: int = 1) -> np.ndarray:
        parts = [np.fromfile(f / f"{name}.raw", dtype=dtype) for f in folders]
        joined = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
        return joined.reshape(-1, width) if width > 1 else joined

    features = raw("features", np.uint8, FEATURES)
    counts = raw("counts", np.uint16).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        for array in (features, raw("moves", np.uint16), raw("legal", np.uint16), offsets):
            np.save(fh, array, allow_pickle=False)
    return len(counts)


def build_positions(dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                    meta_out: str | Path, *, val_fraction: float, seed: int, workers: int = 1,
                    log: TextIO = sys.stderr) -> dict[str, object]:
    """Replay every game of ``dumps`` into train and val position files and their metadata."""
    train_out, val_out = Path(train_out), Path(val_out)
    train_out.parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers, len(dumps)))
    work = Path(tempfile.mkdtemp(prefix=".positions-", dir=train_out.parent))
    started = time.monotonic()
    print(f"[dataset] {len(dumps)} dump(s) -> (position, move) examples in {workers} process(es)",
          file=log, flush=True)
    try:
        tasks = [(str(d), str(work / f"dump{i:04d}"), val_fraction, split_seed(seed, i))
                 for i, d in enumerate(dumps)]
        if workers == 1:
            results = [_dump_examples(*t) for t in tasks]
        else:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_dump_examples, *zip(*tasks)))
        totals = {k: sum(r[k] for r in results) for k in results[0]} if results else {}
        for dump, r in zip(dumps, results):
            print(f"[dataset] {dump}: {r['games']} games, {r['positions']} positions, "
                  f"{r['skipped_unreadable']} unreadable, {r['skipped_illegal']} with an illegal move",
                  file=log, flush=True)
        folders = [work / f"dump{i:04d}" for i in range(len(dumps))]
        n_train = _assemble([f / "train" for f in folders], train_out)
        n_val = _assemble([f / "val" for f in folders], val_out)
        if n_train == 0 or n_val == 0:
            raise ValueError(f"{list(map(str, dumps))}: {n_train} training and {n_val} validation positions; "
                             "too few games to split (lower dataset.val_fraction, or add games)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    meta = {"family": "board", "seed": seed, "val_fraction": val_fraction, **totals,
            "train_positions": n_train, "val_positions": n_val}
    write_json(meta_out, meta)
    print(f"[dataset] done: {totals.get('games', 0)} games, {n_train} training and {n_val} validation "
          f"positions, {(n_train + n_val) / max(seconds, 1e-9):,.0f} positions/s", file=log, flush=True)
    return meta

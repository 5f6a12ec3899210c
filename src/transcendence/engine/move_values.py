"""Stockfish's value of every legal move of many positions: in parallel, cached on disk.

The favor analysis scores each sampled move by the win probability Stockfish gives it, so
every legal move of a position needs a value: one ``multipv`` search over all legal moves.
Those searches dominate the analysis, so they run in a pool of engine processes (one
search thread each) and each position's lines are kept in a small JSON file named by a
hash of FEN + search limit + engine name: a re-run, or another analysis of the same
positions, asks the engine nothing. The hash is cleared before each search, so a value does
not depend on which positions the same engine process saw before.

Win probabilities follow python-chess's ``PovScore(...).wdl(model="lichess").expectation()``
(Lichess's win-percent curve), from the side to move's point of view.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

import chess
import chess.engine

from ..files import atomic_text
from .limit import EngineLimit, LimitLike
from .uci import UciEngine, stop_engines_on_sigterm

ENGINE_OPTIONS = {"Threads": 1, "Hash": 16}


def win_probability(kind: str, value: int) -> float:
    """Expected score (win = 1, draw = 1/2) for the side to move, from a UCI score."""
    # UCI scores are already the mover's view: PovScore(score, turn).pov(turn) is this score.
    score = chess.engine.Cp(value) if kind == "cp" else chess.engine.Mate(value)
    return score.wdl(model="lichess").expectation()


@dataclass(frozen=True)
class MoveValues:
    """Every legal move of one position with its win probability for the mover, best first."""

    fen: str
    moves: tuple[str, ...]          # UCI, in Stockfish's order
    values: tuple[float, ...]       # win probability of each move for the side to move

    @classmethod
    def from_lines(cls, fen: str, lines: Sequence[Sequence]) -> "MoveValues":
        ranked = sorted(((str(m), win_probability(str(k), int(v))) for m, k, v in lines),
                        key=lambda mv: -mv[1])  # stable: ties keep Stockfish's order
        return cls(fen, tuple(m for m, _ in ranked), tuple(v for _, v in ranked))

    def value(self, move: str) -> float:
        return self.values[self.moves.index(move)]

    def rank(self, move: str) -> int:
        """1 for Stockfish's best move."""
        return self.moves.index(move) + 1

    @property
    def best(self) -> float:
        """The position's win probability for the side to move (its best move's)."""
        return self.values[0]


def cache_key(fen: str, limit: LimitLike, engine_id: str) -> str:
    """The name of a position's cache entry: a hash of what its values depend on."""
    config = EngineLimit.parse(limit).to_config()
    text = json.dumps({"fen": fen, "limit": config, "engine": engine_id, "multipv": "all"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.json"


def _read_cache(path: Path, fen: str) -> list | None:
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a damaged entry is recomputed and rewritten
    return entry["lines"] if entry.get("fen") == fen else None


def analyse_positions(fens: Sequence[str], *, engine_path: str, limit: LimitLike,
                      cache_dir: str | Path, workers: int = 1, log: TextIO | None = None) -> list[MoveValues]:
    """Values of every legal move of each position (in input order).

    Positions missing from the cache are searched by ``workers`` engine processes; how
    many came from the cache and how many were searched is printed to ``log``.
    """
    cache_dir = Path(cache_dir)
    limit = EngineLimit.parse(limit)
    unique = list(dict.fromkeys(fens))
    for fen in unique:
        board = chess.Board(fen)
        if board.is_game_over():
            raise ValueError(f"position {fen} has no legal moves to value")
    with UciEngine(engine_path, options=ENGINE_OPTIONS) as probe:
        engine_id = probe.name
    lines: dict[str, list] = {}
    for fen in unique:
        cached = _read_cache(_cache_file(cache_dir, cache_key(fen, limit, engine_id)), fen)
        if cached is not None:
            lines[fen] = cached
    todo = [fen for fen in unique if fen not in lines]
    if todo:
        local = threading.local()
        engines: list[UciEngine] = []
        guard = threading.Lock()

        def search(fen: str) -> tuple[str, list]:
            engine = getattr(local, "engine", None)
            if engine is None:
                engine = local.engine = UciEngine(engine_path, options=ENGINE_OPTIONS)
                with guard:
                    engines.append(engine)
            if engine.name != engine_id:
                raise RuntimeError(f"engine changed while analysing: {engine.name!r} != {engine_id!r}")
            n_legal = chess.Board(fen).legal_moves.count()
            engine.new_game()
            found = [list(line) for line in engine.analyse(fen, limit, multipv=n_legal)]
            missing = {m.uci() for m in chess.Board(fen).legal_moves} - {line[0] for line in found}
            if missing or len(found) != n_legal:
                raise RuntimeError(f"engine {engine_id} valued {len(found)} of {n_legal} legal moves in {fen} "
                                   f"(missing {sorted(missing)}); give the analysis a larger limit")
            path = _cache_file(cache_dir, cache_key(fen, limit, engine_id))
            # Jobs that share the cache (favor and tsne on the same games, a sweep's conditions)
            # may search one position at once; each writes the same entry.
            with atomic_text(path, shared=True) as fh:
                json.dump({"fen": fen, "limit": limit.to_config(), "engine": engine_id, "lines": found}, fh)
            return fen, found

        try:  # SIGTERM kills the engines at once (a search has a deadline; a stopping job should not wait for it)
            with stop_engines_on_sigterm(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for done, (fen, found) in enumerate(pool.map(search, todo), 1):
                    lines[fen] = found
                    if log is not None and (done % 50 == 0 or done == len(todo)):
                        print(f"[move values] searched {done}/{len(todo)} positions", file=log, flush=True)
        finally:
            for engine in engines:
                engine.close()
    if log is not None:
        print(f"[move values] {len(unique)} positions, {len(unique) - len(todo)} from the cache, "
              f"{len(todo)} searched ({engine_id}, {limit.to_config()}, {workers} engines)", file=log, flush=True)
    return [MoveValues.from_lines(fen, lines[fen]) for fen in fens]

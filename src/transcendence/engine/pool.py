"""Stockfish for many games at once: a pool of engine processes, one per core.

Any idle process plays any game's next move, so a process serves many games in turn. But
Stockfish's move at a fixed depth or node count depends on its hash and history tables,
i.e. on what it searched before (at depth 1, one move in ten differs). So every search
starts from a cleared engine (``ucinewgame``): a move is then a function of the game's
moves alone, the same whichever process plays it and whatever else is running, and one
game at a time plays the same games as many at once. The price is the clearing, 0.5 ms
(16 MB hash: 2.5 ms) per move, and the hash of the game's previous move is not reused,
which at the paper's Skill Levels (the move is picked at depth 2-6) hardly matters.

A process per game in flight, cleared once per game, would cost more: starting a Stockfish
process (loading its network, ~0.2 CPU-seconds and ~90 MB) costs more than the clearing it
saves. A process that dies, or misses its deadline, is restarted
(``UciEngine``) and asked again from the same position; the count is reported per move, and
so per game, and so is a reply that is not a legal move of the game's position.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue
from typing import Mapping, Sequence

import chess

from .limit import EngineLimit, LimitLike
from .uci import SEARCH_MARGIN, UciEngine


class EnginePool:
    """``workers`` engine processes with the same options; ``submit`` runs a search on an idle one."""

    def __init__(self, path: str, options: Mapping[str, object], workers: int, *,
                 search_margin: float = SEARCH_MARGIN, max_failures: int = 3) -> None:
        workers = max(1, workers)
        with ThreadPoolExecutor(max_workers=workers) as starter:  # starting mostly waits: overlap
            starts = [starter.submit(UciEngine, path, options=dict(options), search_margin=search_margin,
                                     max_failures=max_failures) for _ in range(workers)]
        failed = [f.exception() for f in starts if f.exception() is not None]
        if failed:
            for f in starts:
                if f.exception() is None:
                    f.result().close()
            raise failed[0]
        self._engines = [f.result() for f in starts]
        self._idle: SimpleQueue[UciEngine] = SimpleQueue()
        for engine in self._engines:
            self._idle.put(engine)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine")
        self.name = self._engines[0].name

    def submit(self, moves_uci: Sequence[str], limit: LimitLike, board: chess.Board | None = None) -> Future:
        """The engine's move after ``moves_uci``, as a future of (UCI move, restarts it took).

        ``board`` is the position those moves reach (built from them when not given); the reply
        is checked against it (a copy: the search runs in another thread). The limit is parsed here, so a wrong one fails in
        the caller rather than in a future.
        """
        return self._threads.submit(self._search, list(moves_uci), EngineLimit.parse(limit),
                                    None if board is None else board.copy(stack=False))

    def _search(self, moves_uci: list[str], limit: EngineLimit, board: chess.Board | None) -> tuple[str, int]:
        engine = self._idle.get()
        try:
            before = engine.restarts
            engine.new_game()  # a dead or silent process is restarted here (and counted)
            move = engine.best_move(moves_uci, limit, board=board)
            return move, engine.restarts - before
        finally:
            self._idle.put(engine)

    @property
    def restarts(self) -> int:
        return sum(e.restarts for e in self._engines)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        for engine in self._engines:
            engine.close()

    def __enter__(self) -> "EnginePool":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            # Failing or stopping: kill the engines first, so a search in flight ends now
            # (its thread sees the process gone) instead of at its deadline.
            for engine in self._engines:
                engine.interrupt()
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.close()

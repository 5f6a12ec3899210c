"""A minimal, fast UCI client for Stockfish, with a deadline on every reply.

python-chess's engine module is general and asynchronous; generating tens of thousands of
games at depth 1 spends most of its time in that machinery. This client speaks just the
part of UCI the study needs (options, ``position``, ``go``, ``bestmove``) over a pipe.

Faults it survives, because a long run must lose nothing to one bad engine process:

- a process that dies, or stops answering, is killed, restarted and asked again from the
  same position. Every reply has a deadline: the handshake (``uci``, ``isready``) gets
  ``reply_timeout`` seconds, a search the time its limit can take
  (:meth:`~transcendence.engine.limit.EngineLimit.search_timeout`)
  plus ``search_margin``. Each restart is counted in ``restarts``, and the request gives up
  only after ``max_failures`` failures in a row on that one request, so a long shard on a
  flaky machine goes on while an engine that fails on every try still stops the job.
- a reply that is not a legal move of the position asked about (an illegal move, ``zz99``, a
  bare ``bestmove``, ``(none)`` where there are moves) is a failure like a death: the process
  is killed, restarted, asked again and counted, since pushing it would go on from a board
  the engine never saw, and a game could be written with an illegal move.
- a job that receives SIGTERM (Snakemake stopping, a cluster's time limit) kills its engine
  processes at once and exits (:func:`stop_engines_on_sigterm`), rather than leaving an
  orphaned search running or waiting for one.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence, TypeVar

import chess

from .limit import EngineLimit, LimitLike

T = TypeVar("T")

REPLY_TIMEOUT = 30.0   # seconds for uciok / readyok: Stockfish loads its network at start
SEARCH_MARGIN = 30.0   # seconds beyond what a search limit can take (a loaded machine, a slow disk)

# Engine processes alive in this interpreter, so that SIGTERM can kill every one of them.
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by SIGTERM: no engine is (re)started any more


class EngineError(RuntimeError):
    """The engine is missing, misbehaves or dies repeatedly."""


class EngineTimeout(EngineError):
    """The engine did not answer within its deadline."""


class EngineBadReply(EngineError):
    """The engine answered something that is not a legal move of the position; asking again may help."""


class EngineAnswerError(EngineError):
    """The engine answered, but with something asking again cannot change (no move, no lines)."""


def find_engine(name_or_path: str) -> str:
    """Resolve an engine executable (a path, or a name on PATH or under /usr/games).

    Debian installs Stockfish under ``/usr/games``, which is not on every user's PATH.
    """
    candidate = Path(name_or_path)
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name_or_path) or shutil.which(name_or_path, path="/usr/games:/usr/local/games")
    if found is None:
        raise EngineError(
            f"chess engine {name_or_path!r} not found on PATH or in /usr/games; "
            "install it (Debian: `sudo apt-get install stockfish`) or set the engine path in the config"
        )
    return found


MAX_WAIT_SLICE = 60.0  # seconds select() waits at once; the deadline is rechecked after each


def kill_all_engines() -> None:
    """Kill every engine process this interpreter started (SIGKILL: a hung one ignores ``quit``)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.kill()


@contextlib.contextmanager
def stop_engines_on_sigterm() -> Iterator[None]:
    """Within this block, SIGTERM kills the engines and exits (status 143) at once.

    Python's default would end this process but leave an engine that is hung, or busy in a
    long search, running as an orphan; and a job that waited for its searches to finish
    would not stop when Snakemake or the cluster asks it to. The exit runs the ``finally``
    blocks and context managers above, so partial outputs stay as they were last flushed.
    Only the main thread can install a handler; elsewhere the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        _STOPPING.set()
        kill_all_engines()
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _STOPPING.clear()


@dataclass
class UciEngine:
    """One engine process. Use as a context manager; ``restarts`` counts recoveries.

    ``max_failures`` bounds the failures in a row (death, a missed deadline) on one request;
    the count starts again with the next request, so ``restarts`` can grow without bound
    over a long run while an engine that never answers still ends the job.
    """

    path: str
    options: Mapping[str, object] = field(default_factory=dict)
    max_failures: int = 3
    reply_timeout: float = REPLY_TIMEOUT
    search_margin: float = SEARCH_MARGIN
    name: str = ""
    restarts: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _buffer: bytes = field(default=b"", repr=False)
    _interrupted: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.path = find_engine(self.path)
        self._start()

    # -- process management -------------------------------------------------------------
    def _start(self) -> None:
        if _STOPPING.is_set() or self._interrupted:
            raise EngineError(f"not starting engine {self.path}: the job is stopping")
        try:
            self._proc = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, bufsize=0)
        except OSError as exc:
            raise EngineError(f"cannot start engine {self.path}: {exc}") from exc
        with _LIVE_LOCK:
            _LIVE.add(self._proc)
        self._buffer = b""
        try:
            self._send("uci")
            for line in self._read_until("uciok", self.reply_timeout):
                if line.startswith("id name "):
                    self.name = line[len("id name "):].strip()
            for key, value in self.options.items():
                if isinstance(value, bool):
                    value = "true" if value else "false"
                self._send(f"setoption name {key} value {value}")
            self._new_game()
        except BaseException:
            self._kill()
            raise

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise EngineError(f"engine {self.path} is not running")
        self._proc.stdin.write((line + "\n").encode())
        self._proc.stdin.flush()

    def _read_until(self, prefix: str, timeout: float) -> list[str]:
        """Lines up to and including the first that starts with ``prefix``, within ``timeout`` s."""
        if self._proc is None or self._proc.stdout is None:
            raise EngineError(f"engine {self.path} is not running")
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append(line)
                if line.startswith(prefix):
                    return lines
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineTimeout(f"engine {self.path} did not answer {prefix!r} within {timeout:.1f}s")
            # Wait in slices: a deep search's bound (depth 60: ~1e12 s) overflows select's time_t.
            ready, _, _ = select.select([fd], [], [], min(left, MAX_WAIT_SLICE))
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                raise EngineError(f"engine {self.path} exited unexpectedly (waiting for {prefix!r})")
            self._buffer += data

    def _kill(self) -> None:
        """End the process now, whatever it is doing."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        with _LIVE_LOCK:
            _LIVE.discard(proc)

    def interrupt(self) -> None:
        """Kill the process from another thread and let no request restart it: the thread
        waiting on it sees it gone at once and gives up (its own cleanup closes the pipes)."""
        self._interrupted = True
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()

    def _new_game(self) -> None:
        self._send("ucinewgame")
        self._send("isready")
        self._read_until("readyok", self.reply_timeout)

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        """Run one request; on death or a missed deadline, restart the engine and try again,
        up to ``max_failures`` failures in a row."""
        failures = 0
        while True:
            try:
                if self._proc is None:
                    self._start()
                return attempt()
            except EngineAnswerError:
                raise
            except (EngineError, OSError) as exc:  # OSError: a broken pipe to a dead process
                failures += 1
                self._kill()
                if _STOPPING.is_set() or self._interrupted:
                    raise EngineError(f"engine {self.path} stopped: the job is stopping") from exc
                if failures >= self.max_failures:
                    raise EngineError(f"engine {self.path} failed {failures} times in a row on {what}; "
                                      f"giving up (last: {exc})") from exc
                self.restarts += 1

    def new_game(self) -> None:
        """Clear the hash between games, so each game depends only on its own moves."""
        self._retrying("ucinewgame", self._new_game)

    def close(self) -> None:
        """Ask the engine to quit; kill it if it does not within a few seconds (or at once
        when the job is stopping)."""
        if self._proc is not None and self._proc.poll() is None and not (_STOPPING.is_set() or self._interrupted):
            try:
                self._send("quit")
                self._proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired, EngineError):
                pass
        self._kill()

    def __enter__(self) -> "UciEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- playing ------------------------------------------------------------------------
    def best_move(self, moves_uci: Sequence[str], limit: LimitLike, start_fen: str | None = None,
                  board: chess.Board | None = None) -> str:
        """The engine's move (UCI notation) after ``moves_uci`` from the start position.

        The reply is checked against ``board``, the position those moves reach (built here
        when not given; callers that hold it pass it, since replaying a long game for every
        move costs what a shallow search does). A process that dies, misses the search's
        deadline or answers a move that is not legal there is restarted and asked again
        from the same position (see the class).
        """
        if board is None:
            board = chess.Board(start_fen) if start_fen else chess.Board()
            for move in moves_uci:
                board.push_uci(move)
        position = f"position fen {start_fen}" if start_fen else "position startpos"
        if moves_uci:
            position += " moves " + " ".join(moves_uci)
        limit = EngineLimit.parse(limit)
        go = limit.go_command()
        timeout = limit.search_timeout(margin=self.search_margin)

        def attempt() -> str:
            self._send(position)
            self._send(go)
            return self._checked_move(self._read_until("bestmove", timeout)[-1], board)

        return self._retrying(f"the move after {len(moves_uci)} plies ({board.fen()})", attempt)

    def _checked_move(self, reply: str, board: chess.Board) -> str:
        """The move of a ``bestmove`` line, or :class:`EngineBadReply` when it is not legal in ``board``."""
        tokens = reply.split()
        move = tokens[1] if len(tokens) > 1 else ""
        if move in ("(none)", "0000") and board.is_game_over(claim_draw=False):
            raise EngineAnswerError(f"engine {self.path} has no move in position {board.fen()}: it is over")
        try:
            legal = board.is_legal(chess.Move.from_uci(move))
        except ValueError:  # not UCI notation at all: zz99, an empty move
            legal = False
        if not legal:
            raise EngineBadReply(f"engine {self.name or '?'} ({self.path}) answered {reply.strip()!r} in position "
                                 f"{board.fen()}: {move or 'no move'} is not a legal move there")
        return move

    # -- analysing ----------------------------------------------------------------------
    def analyse(self, fen: str, limit: LimitLike, multipv: int = 1) -> list[tuple[str, str, int]]:
        """The engine's ``multipv`` best lines in ``fen``, best first.

        Each line is (first move in UCI, ``"cp"`` or ``"mate"``, value), the score from the
        side to move's point of view, as the engine reported it at the deepest finished
        iteration. MultiPV is set back to 1 afterwards, so ``best_move`` is unaffected. A
        dead or silent process is restarted and asked again, as in ``best_move``.
        """
        limit = EngineLimit.parse(limit)
        go = limit.go_command()
        timeout = limit.search_timeout(margin=self.search_margin, multipv=multipv)

        def attempt() -> list[tuple[str, str, int]]:
            self._send(f"setoption name MultiPV value {multipv}")
            self._send(f"position fen {fen}")
            self._send(go)
            lines = self._read_until("bestmove", timeout)
            if multipv != 1:
                self._send("setoption name MultiPV value 1")
            return _ranked_lines(lines, fen)

        return self._retrying(f"the analysis of {fen}", attempt)


def _ranked_lines(lines: Sequence[str], fen: str) -> list[tuple[str, str, int]]:
    """The last reported score of each ``multipv`` line, in multipv order.

    A bound (``lowerbound``/``upperbound``) is an unfinished search result, so it replaces
    an exact score only for a line that has none yet.
    """
    best: dict[int, tuple[str, str, int, bool]] = {}
    for line in lines:
        tokens = line.split()
        if not tokens or tokens[0] != "info" or "score" not in tokens or "pv" not in tokens:
            continue
        index = int(tokens[tokens.index("multipv") + 1]) if "multipv" in tokens else 1
        at = tokens.index("score")
        kind, value = tokens[at + 1], int(tokens[at + 2])
        bound = "lowerbound" in tokens or "upperbound" in tokens
        pv = tokens[tokens.index("pv") + 1:]
        if not pv or (bound and index in best and not best[index][3]):
            continue
        best[index] = (pv[0], kind, value, bound)
    if not best:
        raise EngineAnswerError(f"engine reported no lines for {fen}")
    return [best[i][:3] for i in sorted(best)]

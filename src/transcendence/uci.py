"""A minimal, fast UCI client for Stockfish.

python-chess's engine module is general and asynchronous; generating tens of thousands of
games at depth 1 spends most of its time in that machinery. This client speaks just the
part of UCI the study needs (options, ``position``, ``go``, ``bestmove``) over a pipe, and
restarts an engine process that dies so a long run loses nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence


class EngineError(RuntimeError):
    """The engine is missing, misbehaves or dies repeatedly."""


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


def go_command(limit: Mapping[str, float]) -> str:
    """The UCI ``go`` command for a per-move limit given as ``{depth|nodes|time: value}``."""
    if len(limit) != 1:
        raise ValueError(f"engine limit must have exactly one of depth, nodes, time; got {dict(limit)}")
    (kind, value), = limit.items()
    if kind == "depth":
        return f"go depth {int(value)}"
    if kind == "nodes":
        return f"go nodes {int(value)}"
    if kind == "time":
        return f"go movetime {max(1, round(float(value) * 1000))}"
    raise ValueError(f"unknown engine limit {kind!r}; use depth, nodes or time")


@dataclass
class UciEngine:
    """One engine process. Use as a context manager; ``restarts`` counts recoveries."""

    path: str
    options: Mapping[str, object] = field(default_factory=dict)
    max_restarts: int = 3
    name: str = ""
    restarts: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = find_engine(self.path)
        self._start()

    # -- process management -------------------------------------------------------------
    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(
                [self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, bufsize=1,
            )
        except OSError as exc:
            raise EngineError(f"cannot start engine {self.path}: {exc}") from exc
        self._send("uci")
        for line in self._read_until("uciok"):
            if line.startswith("id name "):
                self.name = line[len("id name "):].strip()
        for key, value in self.options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            self._send(f"setoption name {key} value {value}")
        self.new_game()

    def _send(self, line: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    def _read_until(self, prefix: str) -> list[str]:
        assert self._proc is not None and self._proc.stdout is not None
        lines = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise EngineError(f"engine {self.path} exited unexpectedly (waiting for {prefix!r})")
            line = line.rstrip("\n")
            lines.append(line)
            if line.startswith(prefix):
                return lines

    def new_game(self) -> None:
        """Clear the hash between games, so each game depends only on its own moves."""
        self._send("ucinewgame")
        self._send("isready")
        self._read_until("readyok")

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._send("quit")
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
        self._proc = None

    def __enter__(self) -> "UciEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- playing ------------------------------------------------------------------------
    def best_move(self, moves_uci: Sequence[str], limit: Mapping[str, float], start_fen: str | None = None) -> str:
        """The engine's move (UCI notation) after ``moves_uci`` from the start position.

        If the process has died, it is restarted and asked again from the same position,
        up to ``max_restarts`` times in the engine's lifetime.
        """
        position = f"position fen {start_fen}" if start_fen else "position startpos"
        if moves_uci:
            position += " moves " + " ".join(moves_uci)
        go = go_command(limit)
        while True:
            try:
                self._send(position)
                self._send(go)
                line = self._read_until("bestmove")[-1]
                move = line.split()[1]
                if move in ("(none)", "0000"):
                    raise EngineError(f"engine {self.path} has no move in position after {list(moves_uci)}")
                return move
            except (EngineError, BrokenPipeError, OSError) as exc:
                if isinstance(exc, EngineError) and "has no move" in str(exc):
                    raise
                self._restart_after(exc)

    # -- analysing ----------------------------------------------------------------------
    def analyse(self, fen: str, limit: Mapping[str, float], multipv: int = 1) -> list[tuple[str, str, int]]:
        """The engine's ``multipv`` best lines in ``fen``, best first.

        Each line is (first move in UCI, ``"cp"`` or ``"mate"``, value), the score from the
        side to move's point of view, as the engine reported it at the deepest finished
        iteration. MultiPV is set back to 1 afterwards, so ``best_move`` is unaffected. A
        dead process is restarted and asked again, as in ``best_move``.
        """
        go = go_command(limit)
        while True:
            try:
                self._send(f"setoption name MultiPV value {multipv}")
                self._send(f"position fen {fen}")
                self._send(go)
                lines = self._read_until("bestmove")
                if multipv != 1:
                    self._send("setoption name MultiPV value 1")
                return _ranked_lines(lines, fen)
            except (BrokenPipeError, OSError, EngineError) as exc:
                if isinstance(exc, EngineError) and "no lines" in str(exc):
                    raise
                self._restart_after(exc)

    def _restart_after(self, exc: BaseException) -> None:
        """Replace a dead or misbehaving process, or give up after ``max_restarts``."""
        if self.restarts >= self.max_restarts:
            raise EngineError(f"engine {self.path} died {self.restarts + 1} times; giving up") from exc
        self.restarts += 1
        self.close()
        self._start()


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
        raise EngineError(f"engine reported no lines for {fen}")
    return [best[i][:3] for i in sorted(best)]

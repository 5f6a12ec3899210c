"""A real UCI engine process that misbehaves on purpose, for the fault tests.

It plays the first legal move (in sorted UCI order) of the position it is given, and can:
``--hang-at N`` stop answering on its N-th ``go`` (once per ``--marker`` file: the restarted
engine then behaves), ``--hang-always`` never answer ``go``, ``--hang-from N`` stop at its N-th ``go`` for good
(a run that is then killed by hand), ``--die-every N`` exit on every
N-th ``go`` of each process, ``--lie-at N --lie LINE`` answer its N-th ``go`` with ``LINE`` (an
illegal ``bestmove e1e8``, ``bestmove zz99``, a bare ``bestmove``) once per ``--marker`` file,
``--lie-always`` answer every ``go`` so. A hung engine sleeps without reading its input and ignores
SIGTERM, SIGHUP and SIGINT, as a wedged engine in the wild may; only SIGKILL ends it.
``--pids DIR`` writes each process's pid to a file there (and ``hung-PID`` when it hangs), so
tests can wait for a hang and check that no engine survives.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import chess


def hang(pids: str) -> None:
    if pids:
        (Path(pids) / f"hung-{os.getpid()}").touch()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        time.sleep(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hang-at", type=int, default=0)
    parser.add_argument("--hang-always", action="store_true")
    parser.add_argument("--hang-from", type=int, default=0)
    parser.add_argument("--die-every", type=int, default=0)
    parser.add_argument("--lie", default="bestmove e1e8")
    parser.add_argument("--lie-at", type=int, default=0)
    parser.add_argument("--lie-always", action="store_true")
    parser.add_argument("--marker", default="")
    parser.add_argument("--pids", default="")
    args = parser.parse_args()
    if args.pids:
        Path(args.pids).mkdir(parents=True, exist_ok=True)
        (Path(args.pids) / str(os.getpid())).touch()
    board = chess.Board()
    searches = 0
    for line in sys.stdin:
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "uci":
            print("id name FakeEngine 1\nid author tests\nuciok", flush=True)
        elif tokens[0] == "isready":
            print("readyok", flush=True)
        elif tokens[0] == "position":
            if tokens[1] == "startpos":
                board, rest = chess.Board(), tokens[2:]
            else:
                board, rest = chess.Board(" ".join(tokens[2:8])), tokens[8:]
            for move in rest[1:] if rest[:1] == ["moves"] else []:
                board.push_uci(move)
        elif tokens[0] == "go":
            searches += 1
            if args.hang_always or (args.hang_from and searches >= args.hang_from):
                hang(args.pids)
            if args.hang_at and searches == args.hang_at and not os.path.exists(args.marker):
                Path(args.marker).touch()
                hang(args.pids)
            if args.die_every and searches % args.die_every == 0:
                os._exit(1)
            if args.lie_always or (args.lie_at and searches == args.lie_at and not os.path.exists(args.marker)):
                if args.marker:
                    Path(args.marker).touch()
                print(args.lie, flush=True)
                continue
            moves = sorted(m.uci() for m in board.legal_moves)
            print(f"info depth 1 score cp 0 pv {moves[0]}" if moves else "info depth 0", flush=True)
            print(f"bestmove {moves[0] if moves else '(none)'}", flush=True)
        elif tokens[0] == "quit":
            return


if __name__ == "__main__":
    main()


def make_engine(directory: Path, *args: str) -> str:
    """An executable in ``directory`` that runs this fake engine with ``args`` (an engine
    path is one executable, as the config's ``engine`` is)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "fake-engine"
    quoted = " ".join(f"'{a}'" for a in args)
    script.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(__file__).resolve()}' {quoted}\n")
    script.chmod(0o755)
    return str(script)

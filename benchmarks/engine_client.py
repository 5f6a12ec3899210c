"""Benchmark: the project's minimal UCI client against python-chess's engine module.

Game generation asks Stockfish for tens of thousands of depth-1 moves a minute; this
measures how much of that the client itself costs. Both clients replay the same positions
(the first plies of seeded random games) with the same limit, in the same run, one core.

    .venv/bin/python benchmarks/engine_client.py [--positions 2000]
"""

from __future__ import annotations

import argparse
import random
import time

import chess
import chess.engine

from transcendence.engine.uci import UciEngine, find_engine


def positions(n: int, seed: int = 0) -> list[list[str]]:
    """Move lists (UCI) of ``n`` positions from seeded random games."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    while len(out) < n:
        board, moves = chess.Board(), []
        while not board.is_game_over() and len(moves) < 60 and len(out) < n:
            out.append(list(moves))
            move = rng.choice(list(board.legal_moves))
            moves.append(move.uci())
            board.push(move)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=1)
    args = parser.parse_args()
    work = positions(args.positions)
    path = find_engine("stockfish")

    with UciEngine(path, options={"Threads": 1, "Hash": 16}) as engine:
        t = time.perf_counter()
        ours = [engine.best_move(m, {"depth": args.depth}) for m in work]
        ours_s = time.perf_counter() - t
        name = engine.name

    with chess.engine.SimpleEngine.popen_uci(path) as engine:
        engine.configure({"Threads": 1, "Hash": 16})
        t = time.perf_counter()
        theirs = []
        for m in work:
            board = chess.Board()
            for u in m:
                board.push_uci(u)
            theirs.append(engine.play(board, chess.engine.Limit(depth=args.depth)).move.uci())
        theirs_s = time.perf_counter() - t

    agree = sum(a == b for a, b in zip(ours, theirs)) / len(work)
    print(f"engine: {name}; {len(work)} positions at depth {args.depth}")
    print(f"transcendence.engine.uci      {len(work) / ours_s:8.0f} moves/s")
    print(f"python-chess engine    {len(work) / theirs_s:8.0f} moves/s")
    print(f"ratio (ours / python-chess): {theirs_s / ours_s:.2f}x; same move in {agree:.1%} of positions")


if __name__ == "__main__":
    main()

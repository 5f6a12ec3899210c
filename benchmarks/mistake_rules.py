"""Pilot: how good is a shared-mistake rule's move, against a uniformly random legal move?

A measurement for choosing the learnable shared rule on a pilot seed (issue 25), not a speed
benchmark: games of cap 400's two players are generated at ``--seed``, ``--positions``
positions drawn from them, every legal move valued by Stockfish (multipv at ``--depth``, the
expected-reward analysis's values), and each candidate rule's move compared with the mean
over the legal moves (a uniform mistake's expected value), paired per position.

    .venv/bin/python benchmarks/mistake_rules.py --seed 20240612
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

import chess
import numpy as np
import torch

from transcendence.data.synthetic import generate_shard
from transcendence.engine.move_values import analyse_positions
from transcendence.engine.uci import find_engine
from transcendence.pgn.stream import iter_games
from transcendence.pgn.text import movetext_to_text, text_to_sans
from transcendence.players.mistakes import MistakeRule
from transcendence.players.player import Player
from transcendence.players.shared_network import first_choice, random_network
from transcendence.seeds import game_seed


def positions(seed: int, games: int, n: int, engine: str, folder: Path) -> list[chess.Board]:
    players = [Player("eps0.875", 200, {"depth": 1}, eps=0.875), Player("eps0.75", 360, {"depth": 1}, eps=0.75)]
    dump = folder / "pilot.pgn.zst"
    generate_shard(dump, players, games, seed=seed, shard=0, engine_path=engine, max_plies=178,
                   log=open(folder / "games.log", "w"))
    boards = []
    for game in iter_games(dump):
        board = chess.Board()
        for san in text_to_sans(movetext_to_text(game.movetext)):
            boards.append(board.copy())
            board.push_san(san)
    rng = random.Random(seed)
    return rng.sample(boards, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20240612)
    ap.add_argument("--games", type=int, default=40)
    ap.add_argument("--positions", type=int, default=300)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    engine = find_engine("stockfish")
    with tempfile.TemporaryDirectory() as tmp:
        boards = positions(args.seed, args.games, args.positions, engine, Path(tmp))
        values = analyse_positions([b.fen() for b in boards], engine_path=engine, limit={"depth": args.depth},
                                   cache_dir=Path(tmp) / "cache", workers=2)
    uniform = np.array([np.mean([v.value(m.uci()) for m in b.legal_moves]) for b, v in zip(boards, values)])
    best = np.array([v.best for v in values])
    rules = {f"network {c}x{k}": MistakeRule(share=1.0, shared="network", seed=args.seed, channels=c, blocks=k)
             for c, k in ((8, 1), (32, 4))}
    rules["position_hash"] = MistakeRule(share=1.0, shared="position_hash", seed=args.seed)
    out = {"seed": args.seed, "positions": len(boards), "depth": args.depth,
           "uniform_mean": float(uniform.mean()), "best_mean": float(best.mean()), "rules": {}}
    print(f"{len(boards)} positions (seed {args.seed}); mean win probability of the mover: best move "
          f"{best.mean():.3f}, a uniform legal move {uniform.mean():.3f}")
    for name, rule in rules.items():
        moves = [rule.shared_move(b) for b in boards]
        r = np.array([v.value(m.uci()) for m, v in zip(moves, values)])
        diff = r - uniform
        boot = np.random.default_rng(0).integers(0, len(diff), (2000, len(diff)))
        lo, hi = np.percentile(diff[boot].mean(axis=1), [2.5, 97.5])
        pieces = Counter(chess.piece_name(b.piece_type_at(m.from_square)) for b, m in zip(boards, moves))
        out["rules"][name] = {"mean": float(r.mean()), "minus_uniform": float(diff.mean()),
                              "minus_uniform_ci": [float(lo), float(hi)], "pieces": dict(pieces)}
        print(f"{name:>16}: mean {r.mean():.3f}, minus uniform {diff.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]; "
              f"moved piece {dict(pieces.most_common())}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

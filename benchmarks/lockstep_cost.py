"""Benchmark: what evaluation's lockstep costs (``play_games(lockstep=True)``, each model step
waits for every engine search in flight) against the loop that overlaps model steps with
searches (``lockstep=False``), in the same run.

Lockstep makes which games share a model step a function of the games alone, so a loaded
machine plays the games of a quiet one; the price is the overlap of the network's forward
pass with Stockfish's searches. One shard of the default's evaluation: a 32x4 board network
(freshly initialised, or ``--model`` for a trained checkpoint), ``legal_moves`` mode at
``--temperature``, ``--games`` games 40 at a time against an eps opponent searching at
depth 1 with ``--engines`` Stockfish processes. Rounds alternate the two loops; wall seconds
are compared (the overlap is a wall-clock saving: the engine runs in other processes), and
both loops must end with the same games (checked each round).

    nice -n 10 .venv/bin/python benchmarks/lockstep_cost.py [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from transcendence.engine.pool import EnginePool
from transcendence.engine.uci import find_engine
from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.families import load_model
from transcendence.model.checkpoint import save_model
from transcendence.play.evaluate import Game, play_games
from transcendence.families import family_of
from transcendence.players.player import Player


def play(model, engines: EnginePool, opponent: Player, args: argparse.Namespace, lockstep: bool
         ) -> tuple[float, list[tuple[int, tuple[str, ...]]]]:
    """Wall seconds for one shard, and its games (index, moves)."""
    policy = family_of(model).batch_policy(model, slots=args.batch_games, temperature=args.temperature, mode="legal_moves",
                          max_tries=1)
    games = [Game(g, model_white=g % 2 == 0, seed=1000 + g) for g in range(args.games)]
    ended: list[tuple[int, tuple[str, ...]]] = []
    start = time.perf_counter()
    play_games(policy, engines, opponent, games, max_fullmoves=89,
               on_finish=lambda g: ended.append((g.index, tuple(g.sans))), lockstep=lockstep)
    return time.perf_counter() - start, sorted(ended)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a board checkpoint (default: a fresh 32x4 network)")
    parser.add_argument("--games", type=int, default=80)
    parser.add_argument("--batch-games", type=int, default=40)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--eps", type=float, default=0.75)
    parser.add_argument("--engines", type=int, default=1, help="Stockfish processes (the default profile: 1)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.model:
        model = load_model(args.model, torch.device("cpu"))
    else:
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            save_model(path, BoardNet(BoardNetConfig()), {}, family="board")
            model = load_model(path, torch.device("cpu"))
    opponent = Player(f"eps{args.eps}", 0, {"depth": 1}, eps=args.eps)
    seconds: dict[str, list[float]] = {"lockstep": [], "overlap": []}
    same_games = 0
    with EnginePool(find_engine("stockfish"), {"Threads": 1, "Hash": 16}, workers=args.engines) as engines:
        for _ in range(args.rounds):
            t_lock, games_lock = play(model, engines, opponent, args, lockstep=True)
            t_over, games_over = play(model, engines, opponent, args, lockstep=False)
            same_games += games_lock == games_over  # a last-bit flip under other batches: rare
            seconds["lockstep"].append(t_lock)
            seconds["overlap"].append(t_over)
    result = {name: round(statistics.median(v), 3) for name, v in seconds.items()}
    result["lockstep_over_overlap"] = round(result["lockstep"] / result["overlap"], 3)
    result.update(rounds_with_the_same_games=same_games, games=args.games, batch_games=args.batch_games,
                  temperature=args.temperature, eps=args.eps, engines=args.engines, rounds=args.rounds,
                  model=args.model or "fresh 32x4")
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()

"""Benchmark: the favor analysis's two costs, each against its plain baseline in one run.

1. Stockfish's values of every legal move (one multipv search per position): one engine
   process against a pool of ``--workers``, and a re-run served by the on-disk cache.
2. The model's samples: ``--samples`` per-character samples per position drawn one at a
   time through ``ModelPolicy`` (one try each) against ``CharacterSampler``'s batch.

Positions are the first plies of seeded random games; the model is a randomly initialised
one of the embedded default's size (its samples are mostly not moves, which costs the
batched and the one-at-a-time samplers alike: both write up to ten characters).

    .venv/bin/python benchmarks/favor_analysis.py [--positions 40] [--depth 6] [--workers 2]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import chess
import torch

from transcendence.model.gpt import GPT, GPTConfig
from transcendence.families.text.move_samples import CharacterSampler
from transcendence.engine.move_values import analyse_positions
from transcendence.families.text.policy import ModelPolicy


def games(n: int, seed: int = 0) -> list[tuple[list[str], chess.Board]]:
    """(SAN history, board) of ``n`` positions from seeded random games (plies 0-39)."""
    rng = random.Random(seed)
    out: list[tuple[list[str], chess.Board]] = []
    while len(out) < n:
        board, sans = chess.Board(), []
        while not board.is_game_over() and len(sans) < 40 and len(out) < n:
            out.append((list(sans), board.copy()))
            move = rng.choice(list(board.legal_moves))
            sans.append(board.san(move))
            board.push(move)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=40)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--sample-positions", type=int, default=10)
    args = parser.parse_args()
    work = games(args.positions)
    fens = [b.fen() for _, b in work]
    limit = {"depth": args.depth}

    timings = {}
    for label, workers in (("1 engine", 1), (f"{args.workers} engines", args.workers)):
        with tempfile.TemporaryDirectory() as cache:
            t = time.perf_counter()
            analyse_positions(fens, engine_path="stockfish", limit=limit, cache_dir=cache, workers=workers)
            timings[label] = time.perf_counter() - t
            if workers == args.workers:
                t = time.perf_counter()
                analyse_positions(fens, engine_path="stockfish", limit=limit, cache_dir=cache, workers=workers)
                timings["cache hit"] = time.perf_counter() - t
    base = timings["1 engine"]
    print(f"move values, {args.positions} positions, multipv all, depth {args.depth}:")
    for label, s in timings.items():
        print(f"  {label:>10}: {s:7.2f} s  ({base / s:5.1f}x vs 1 engine)")

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GPT(GPTConfig(n_layer=2, n_head=4, n_embd=128, block_size=1023)).eval()
    positions = work[: args.sample_positions]
    t = time.perf_counter()
    for sans, board in positions:
        policy = ModelPolicy(model, temperature=1.0, mode="per_character", max_tries=1)
        gen = torch.Generator().manual_seed(0)
        for _ in range(args.samples):
            policy.choose(board, sans, gen)
    one = time.perf_counter() - t
    t = time.perf_counter()
    for sans, board in positions:
        CharacterSampler(model, board, sans).moves_at(1.0, args.samples, torch.Generator().manual_seed(0))
    batched = time.perf_counter() - t
    print(f"per-character samples, {args.sample_positions} positions x {args.samples} at T=1:")
    print(f"  one at a time (ModelPolicy): {one:7.2f} s")
    print(f"  batched (CharacterSampler):   {batched:7.2f} s  ({one / batched:5.1f}x)")


if __name__ == "__main__":
    main()

"""Benchmark: scoring every legal move with the prompt's key/value cache, against
recomputing prompt + move for each legal move (the naive way), for one model size.

This is the cost of one model move in the ``legal_moves`` evaluation mode. Both ways give
the same scores (checked); positions are the first plies of seeded random games.

    .venv/bin/python benchmarks/legal_move_scoring.py [--layers 2 --width 128 --positions 60]
"""

from __future__ import annotations

import argparse
import random
import time

import chess
import torch

from transcendence.model.gpt import GPT, GPTConfig
from transcendence.pgn.text import prompt_for
from transcendence.families.text.policy import ModelPolicy
from transcendence.pgn.vocab import encode


@torch.no_grad()
def naive_scores(model: GPT, board: chess.Board, sans: list[str]) -> torch.Tensor:
    prompt = prompt_for(sans)
    device = next(model.parameters()).device
    scores = []
    for move in board.legal_moves:
        text = prompt + board.san(move) + " "
        ids = torch.from_numpy(encode(text).astype("int64"))[None].to(device)
        logp = torch.log_softmax(model(ids[:, :-1])[0][0].double(), dim=-1)
        n = len(text) - len(prompt)
        scores.append(logp[-n:].gather(1, ids[0, -n:, None]).sum().cpu())
    return torch.stack(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--positions", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=args.layers, n_head=4, n_embd=args.width, block_size=1023)).eval()
    policy = ModelPolicy(model, temperature=1.0, mode="legal_moves")
    rng = random.Random(0)
    work, board, sans = [], chess.Board(), []
    while len(work) < args.positions:
        if board.is_game_over() or len(sans) >= 120:
            board, sans = chess.Board(), []
        work.append((board.copy(), list(sans)))
        move = rng.choice(list(board.legal_moves))
        sans.append(board.san(move))
        board.push(move)

    for b, s in work[:5]:  # both ways compute the same scores
        _, scores = policy.legal_move_scores(b, s)
        assert torch.allclose(scores.cpu(), naive_scores(model, b, s), atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for b, s in work:
        policy.choose(b, s, gen)
    cached = time.perf_counter() - t
    t = time.perf_counter()
    for b, s in work:
        naive_scores(model, b, s)
    naive = time.perf_counter() - t
    print(f"model {args.layers}x{args.width}, {args.positions} positions, {args.threads} thread(s)")
    print(f"cached, batched  {1000 * cached / len(work):7.1f} ms per model move")
    print(f"naive            {1000 * naive / len(work):7.1f} ms per model move")
    print(f"ratio (naive / cached): {naive / cached:.1f}x")


if __name__ == "__main__":
    main()

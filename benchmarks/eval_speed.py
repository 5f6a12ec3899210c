"""Benchmark: evaluation games/hour, the batched engine against the released code's design.

Baseline: one game at a time, one Stockfish process, and every character the model samples
recomputes the whole context (prompt + the characters so far) with no cache, batch 1: the
design of the paper's released evaluation code. Measured: ``transcendence.play.evaluate.run_shard``
with ``--batch-games`` games at once (one batched forward pass per character for all games
whose turn it is, a key/value cache per game, ``--threads`` engine searches at once).

Both play the paper's per-character protocol with the same seeds and the same per-game
random draws, so with a depth or nodes limit (and no Skill Level) they play the same games,
which the benchmark checks: the ratio compares the same work, in the same run, on the same
machine and opponent.

    .venv/bin/python benchmarks/eval_speed.py --model results/models/cap800/model.pt \\
        --games 20 --temperature 0.1 --limit depth=1 --eps 0.5 --threads 2 [--device cuda]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import chess
import torch

from transcendence.play.evaluate import Game, run_shard
from transcendence.players.player import Player
from transcendence.seeds import game_seed
from transcendence.pgn.text import prompt_for
from transcendence.families.sampling import MAX_MOVE_CHARS, RESULT, sample
from transcendence.pgn.text import format_pgn
from transcendence.families import load_model
from transcendence.model.device import pick_device
from transcendence.engine.uci import UciEngine
from transcendence.pgn.vocab import SPACE_ID, VOCAB, encode


@torch.no_grad()
def naive_move(model, game: Game, temperature: float, max_tries: int, device) -> tuple[chess.Move | None, str]:
    """One model turn as the released code plays it: the full context for every character."""
    prompt = encode(prompt_for(game.sans)).tolist()
    if len(prompt) + MAX_MOVE_CHARS > model.config.block_size:
        return None, "context limit"
    for _ in range(max_tries):
        ids: list[int] = list(prompt)
        chars: list[str] = []
        while True:
            logits = model(torch.tensor([ids], device=device))[0][0, -1]
            token = sample(logits, temperature, game.gen)
            if token == SPACE_ID:
                break
            chars.append(VOCAB[token])
            ids.append(token)
            if len(chars) == MAX_MOVE_CHARS:
                break
        text = "".join(chars)
        if RESULT.match(text):
            return None, "resigned"
        try:
            move = game.board.parse_san(text)
        except ValueError:
            move = None
        if move:
            return move, ""
        game.illegal += 1
    return None, "forfeit"


@torch.no_grad()
def naive_legal_move(model, game: Game, temperature: float) -> tuple[chess.Move | None, str]:
    """One model turn in ``legal_moves`` mode without a cache: prompt + move recomputed for
    every legal move (``legal_move_scoring.naive_scores``), then one draw over their scores."""
    from legal_move_scoring import naive_scores

    if len(encode(prompt_for(game.sans))) + MAX_MOVE_CHARS > model.config.block_size:
        return None, "context limit"
    moves = list(game.board.legal_moves)
    return moves[sample(naive_scores(model, game.board, game.sans), temperature, game.gen)], ""


def naive_shard(model, opponent: Player, *, games: int, seed: int, cap: int, temperature: float,
                max_tries: int, max_fullmoves: int, engine: str, device, mode: str = "per_character",
                deadline: float | None = None) -> list[Game]:
    """The baseline's games, one after the other; none is started after ``deadline``
    (a ``time.perf_counter()`` value), but the first always is."""
    out = []
    with UciEngine(engine, options=opponent.engine_options()) as sf:
        for index in range(games):
            if out and deadline is not None and time.perf_counter() >= deadline:
                break
            game = Game(index, model_white=index % 2 == 0, seed=game_seed(seed, cap, temperature, opponent.name, index))
            sf.new_game()
            while True:
                if game.board.is_game_over(claim_draw=False):
                    game.end(game.board.result(claim_draw=False), "normal")
                elif game.board.fullmove_number > max_fullmoves:
                    game.end("1/2-1/2", "move limit")
                elif game.model_turn:
                    move, ending = (naive_legal_move(model, game, temperature) if mode == "legal_moves"
                                    else naive_move(model, game, temperature, max_tries, device))
                    if ending == "context limit":
                        game.end("1/2-1/2", ending)
                    elif move is None:
                        game.model_loses(ending)
                    else:
                        game.push(move)
                        continue
                elif opponent.eps and game.rng.random() < opponent.eps:
                    game.push(game.rng.choice(list(game.board.legal_moves)))
                    continue
                else:
                    game.push(chess.Move.from_uci(sf.best_move(game.moves_uci, opponent.limit)))
                    continue
                break
            out.append(game)
    return out


def movetexts(pgn: Path) -> list[str]:
    return [line for line in pgn.read_text().splitlines() if line and not line.startswith("[")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/models/cap800/model.pt", help="a trained checkpoint")
    parser.add_argument("--games", type=int, default=20)
    parser.add_argument("--batch-games", type=int, default=0, help="games at once (default: all)")
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--limit", default="depth=1", help="the opponent's per-move limit: depth=N, nodes=N or time=S")
    parser.add_argument("--skill-level", type=int, default=None)
    parser.add_argument("--eps", type=float, default=0.5, help="rate of random opponent moves")
    parser.add_argument("--max-tries", type=int, default=5)
    parser.add_argument("--max-fullmoves", type=int, default=89)
    parser.add_argument("--threads", type=int, default=1, help="model CPU threads and engine searches at once")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, auto")
    parser.add_argument("--engine", default="stockfish")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kind, value = args.limit.split("=")
    opponent = Player("opponent", 0.0, {kind: float(value)}, skill_level=args.skill_level, eps=args.eps)
    device = pick_device(args.device)
    model = load_model(args.model, device)
    cap = 0
    common = dict(cap=cap, temperature=args.temperature, max_tries=args.max_tries, max_fullmoves=args.max_fullmoves)

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = run_shard(args.model, Path(tmp) / "g.pgn", Path(tmp) / "g.csv", opponent=opponent,
                            games=args.games, seed=args.seed, mode="per_character", engine_path=args.engine,
                            threads=args.threads, device=args.device, batch_games=args.batch_games or args.games,
                            log=open("/dev/null", "w"), **common)
        batched = time.perf_counter() - t
        batched_games = movetexts(Path(tmp) / "g.pgn")
        with open(Path(tmp) / "g.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    t = time.perf_counter()
    naive_games = [format_pgn({}, g.sans, g.result).strip()
                   for g in naive_shard(model, opponent, games=args.games, seed=args.seed, engine=args.engine,
                                        device=device, **common)]
    naive = time.perf_counter() - t

    plies = sum(int(r["plies"]) for r in rows)
    print(f"model {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters) on {device}, "
          f"{args.threads} thread(s); opponent {opponent.limit.to_config()} skill {args.skill_level} eps {args.eps}; "
          f"T={args.temperature}; {args.games} games, {plies} plies ({plies / args.games:.1f} per game), "
          f"terminations {sorted({r['termination'] for r in rows})}")
    print(f"batched ({summary['batch_games']} at once)  {args.games / batched * 3600:10.0f} games/hour  ({batched:.1f} s)")
    print(f"naive (one at a time)  {args.games / naive * 3600:10.0f} games/hour  ({naive:.1f} s)")
    print(f"ratio (batched / naive games per hour): {naive / batched:.1f}x")
    print(f"same games: {'yes' if naive_games == batched_games else 'NO'}"
          + ("" if kind != "time" and args.skill_level is None else " (not expected: time limit or Skill Level)"))


if __name__ == "__main__":
    main()

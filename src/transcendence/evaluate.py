"""Evaluation: a trained model plays a Stockfish opponent at one temperature (one shard).

STUDY.md's protocol: the model is White in half the games and Black in the other half;
games still running after ``max_fullmoves`` full moves are draws (the context limit); a
model that cannot produce a legal move in ``max_tries`` tries forfeits; a result string is
a resignation. Every game is written as PGN, with headers that say who played, at which
temperature and level, with which seed and engine, and how the game ended, plus one row per
game in a CSV table that the rating stage reads.

Finished games are appended to ``<output>.partial`` files as they end; a shard that is
killed resumes from there without replaying them, and each game's randomness comes from
its own seed, so resumed and uninterrupted shards hold the same games.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

import chess
import torch

from .policy import ModelPolicy
from .synthetic import format_pgn
from .uci import UciEngine

COLUMNS = ["game", "model_color", "result", "model_score", "plies", "termination", "illegal_tries",
           "forfeit", "cap", "temperature", "mode", "opponent", "opponent_rating", "engine", "seed"]


@dataclass(frozen=True)
class Opponent:
    """A fixed opponent: Stockfish at a UCI Skill Level and per-move limit, with an
    optional rate ``eps`` of uniformly random moves; ``rating`` is its anchor."""

    name: str
    rating: float
    limit: Mapping[str, float]
    skill_level: int | None = None
    eps: float = 0.0
    options: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_config(cls, entry: Mapping[str, object]) -> "Opponent":
        return cls(name=str(entry["name"]), rating=float(entry["rating"]), limit=dict(entry["limit"]),
                   skill_level=entry.get("skill_level"), eps=float(entry.get("eps", 0.0)),
                   options=dict(entry.get("options", {})))

    def engine_options(self) -> dict[str, object]:
        opts: dict[str, object] = {"Threads": 1, "Hash": 16, **self.options}
        if self.skill_level is not None:
            opts["Skill Level"] = self.skill_level
        return opts


def game_seed(*parts: object) -> int:
    """A 63-bit seed from the parts that identify one game (stable across runs and machines)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass
class GameRecord:
    row: dict[str, object]
    pgn: str


def play_game(policy: ModelPolicy, engine: UciEngine, opponent: Opponent, *, model_white: bool,
              seed: int, max_fullmoves: int) -> tuple[list[str], str, str, int]:
    """One game; returns (SAN moves, result, termination, illegal tries)."""
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    engine.new_game()
    board = chess.Board()
    sans: list[str] = []
    moves_uci: list[str] = []
    illegal = 0
    model_color = chess.WHITE if model_white else chess.BLACK
    model_loses = "0-1" if model_white else "1-0"
    while True:
        if board.is_game_over(claim_draw=False):
            return sans, board.result(claim_draw=False), "normal", illegal
        if board.fullmove_number > max_fullmoves:
            return sans, "1/2-1/2", "move limit", illegal
        if board.turn == model_color:
            choice = policy.choose(board, sans, gen)
            illegal += choice.illegal
            if choice.context_full:
                return sans, "1/2-1/2", "context limit", illegal
            if choice.resigned:
                return sans, model_loses, "resigned", illegal
            if choice.move is None:
                return sans, model_loses, "forfeit", illegal
            move = choice.move
        elif opponent.eps and rng.random() < opponent.eps:
            move = rng.choice(list(board.legal_moves))
        else:
            move = chess.Move.from_uci(engine.best_move(moves_uci, opponent.limit))
        sans.append(board.san(move))
        moves_uci.append(move.uci())
        board.push(move)


def _score(result: str, model_white: bool) -> float:
    return {"1-0": 1.0, "0-1": 0.0, "1/2-1/2": 0.5}[result] if model_white else \
        {"1-0": 0.0, "0-1": 1.0, "1/2-1/2": 0.5}[result]


def _read_partial(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run_shard(model_path: str | Path, pgn_out: str | Path, table_out: str | Path, *, cap: int,
              temperature: float, opponent: Opponent, games: int, seed: int, mode: str,
              max_tries: int, max_fullmoves: int, engine_path: str, threads: int = 1,
              device: str = "cpu", log: TextIO = sys.stderr) -> dict[str, object]:
    """Play ``games`` games (alternating colours), resuming from partial outputs."""
    from .train import load_model, pick_device

    torch.set_num_threads(threads)
    model = load_model(model_path, pick_device(device))
    policy = ModelPolicy(model, temperature=temperature, mode=mode, max_tries=max_tries)
    pgn_out, table_out = Path(pgn_out), Path(table_out)
    pgn_part = pgn_out.with_name(pgn_out.name + ".partial")
    table_part = table_out.with_name(table_out.name + ".partial")
    done_rows = _read_partial(table_part)
    if done_rows and not pgn_part.exists():
        done_rows = []
    if not done_rows:
        for p in (pgn_part, table_part):
            p.unlink(missing_ok=True)
    else:  # keep exactly the PGN games whose rows made it to the table
        keep = pgn_part.read_text().split("\n\n[")[: len(done_rows)]
        pgn_part.write_text("\n\n[".join(keep).rstrip("\n") + "\n\n")
        print(f"[evaluate] resuming after {len(done_rows)} finished games", file=log, flush=True)
    pgn_out.parent.mkdir(parents=True, exist_ok=True)
    table_out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with UciEngine(engine_path, options=opponent.engine_options()) as engine, \
            open(pgn_part, "a") as pgn_fh, open(table_part, "a", newline="") as table_fh:
        writer = csv.DictWriter(table_fh, fieldnames=COLUMNS)
        if not done_rows:
            writer.writeheader()
        for game in range(len(done_rows), games):
            model_white = game % 2 == 0
            gseed = game_seed(seed, cap, temperature, opponent.name, game)
            sans, result, termination, illegal = play_game(
                policy, engine, opponent, model_white=model_white, seed=gseed, max_fullmoves=max_fullmoves)
            score = _score(result, model_white)
            model_name = f"chessformer-cap{cap}"
            headers = {
                "Event": f"Evaluation cap {cap} T={temperature} vs {opponent.name}",
                "Site": "transcendence", "Date": "????.??.??", "Round": str(game + 1),
                "White": model_name if model_white else opponent.name,
                "Black": opponent.name if model_white else model_name,
                "Result": result, "Cap": str(cap), "Temperature": str(temperature), "Mode": mode,
                "Opponent": opponent.name, "OpponentRating": str(opponent.rating),
                "SkillLevel": str(opponent.skill_level), "EngineLimit": str(dict(opponent.limit)),
                "OpponentEps": str(opponent.eps), "Engine": engine.name, "Seed": str(gseed),
                "IllegalTries": str(illegal), "Termination": termination,
            }
            pgn_fh.write(format_pgn(headers, sans, result))
            pgn_fh.flush()
            writer.writerow({
                "game": game, "model_color": "white" if model_white else "black", "result": result,
                "model_score": score, "plies": len(sans), "termination": termination,
                "illegal_tries": illegal, "forfeit": int(termination == "forfeit"), "cap": cap,
                "temperature": temperature, "mode": mode, "opponent": opponent.name,
                "opponent_rating": opponent.rating, "engine": engine.name, "seed": gseed,
            })
            table_fh.flush()
            os.fsync(table_fh.fileno())
            finished = game + 1
            elapsed = time.monotonic() - started
            rate = (finished - len(done_rows)) / max(elapsed, 1e-9)
            print(f"[evaluate cap {cap} T={temperature} {opponent.name}] game {finished}/{games} "
                  f"{result} ({termination}, {len(sans)} plies), ETA {(games - finished) / rate:.0f}s",
                  file=log, flush=True)
        engine_name, restarts = engine.name, engine.restarts
    os.replace(pgn_part, pgn_out)
    os.replace(table_part, table_out)
    return {"games": games, "engine": engine_name, "engine_restarts": restarts,
            "seconds": round(time.monotonic() - started, 2)}

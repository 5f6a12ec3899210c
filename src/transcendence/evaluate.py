"""Evaluation: a trained model plays a Stockfish opponent at one temperature (one shard).

STUDY.md's protocol: the model is White in half the games and Black in the other half;
games still running after ``max_fullmoves`` full moves are draws (the context limit); a
model that cannot produce a legal move in ``max_tries`` tries forfeits; a result string is
a resignation. Every game is written as PGN, with headers that say who played, at which
temperature and level, with which seed, engine, engine options and engine restarts, and how
the game ended, plus one row per game in a CSV table that the rating stage reads.

Many games at once (``batch_games``): the shard's games advance together; each model step
is one batched forward pass for every game whose turn it is (``batch_policy``), and the
engine's turns search meanwhile in a pool of Stockfish processes, one per thread, each
search starting from a cleared engine (``engine_pool``). Each
game's randomness comes from its own seed (the game's index in the shard), so one game at a
time, many at once, and a resumed shard all hold the same games wherever the opponent's
limit is depth or nodes (a time limit, and Stockfish's Skill Level, which Stockfish seeds
from the clock, are not reproducible; the log says so).

Finished games are appended to ``<output>.partial`` files as they end, in whatever order
they end; a shard that is killed resumes from there without replaying them, and the final
PGN and table list the games in order.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, TextIO

import chess
import torch

from .batch_policy import BatchPolicy, Request
from .engine_pool import EnginePool
from .files import atomic_text
from .synthetic import format_pgn

COLUMNS = ["game", "model_color", "result", "model_score", "plies", "termination", "illegal_tries",
           "forfeit", "cap", "temperature", "mode", "opponent", "opponent_rating", "engine",
           "engine_options", "engine_restarts", "seed"]


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


@dataclass(eq=False)
class Game:
    """One game in flight: its identity, its own random streams, its position."""

    index: int
    model_white: bool
    seed: int
    slot: int = -1
    board: chess.Board = field(default_factory=chess.Board)
    sans: list[str] = field(default_factory=list)
    moves_uci: list[str] = field(default_factory=list)
    illegal: int = 0
    engine_restarts: int = 0
    result: str = ""
    termination: str = ""

    def __post_init__(self) -> None:
        # Two streams, both from the game's seed: the model's draws and the opponent's eps
        # moves. Nothing else is random, so a game is the same whatever it is batched with.
        self.gen = torch.Generator().manual_seed(self.seed)
        self.rng = random.Random(self.seed)

    @property
    def model_turn(self) -> bool:
        return self.board.turn == (chess.WHITE if self.model_white else chess.BLACK)

    def push(self, move: chess.Move) -> None:
        self.sans.append(self.board.san(move))
        self.moves_uci.append(move.uci())
        self.board.push(move)

    def end(self, result: str, termination: str) -> None:
        self.result, self.termination = result, termination

    def model_loses(self, termination: str) -> None:
        self.end("0-1" if self.model_white else "1-0", termination)


def play_games(policy: BatchPolicy, engines: EnginePool, opponent: Opponent, games: Iterable[Game], *,
               max_fullmoves: int, on_finish: Callable[[Game], None]) -> None:
    """Play ``games``, as many at once as the policy has slots, calling ``on_finish`` as each ends.

    The loop: start games on free slots; move every game as far as it goes without the
    model or the engine (random eps moves, game over); send the engine's turns to the pool
    (they search in threads meanwhile); run one batched model step for every game whose
    turn it is; apply the engine moves that are ready (waiting only when no game has the
    model's turn). Every game depends only on its own seed and moves, never on this order.
    """
    queue = deque(games)
    free = list(range(len(policy.ids)))[::-1]
    active: dict[int, Game] = {}
    searching: dict[Future, Game] = {}

    def advance(game: Game) -> bool:
        """Make the moves that need neither model nor engine; True when the model is to move."""
        while True:
            if game.board.is_game_over(claim_draw=False):
                game.end(game.board.result(claim_draw=False), "normal")
                return False
            if game.board.fullmove_number > max_fullmoves:
                game.end("1/2-1/2", "move limit")
                return False
            if game.model_turn:
                return True
            if opponent.eps and game.rng.random() < opponent.eps:
                game.push(game.rng.choice(list(game.board.legal_moves)))
                continue
            searching[engines.submit(game.moves_uci, opponent.limit)] = game
            return False

    def collect(done: Iterable[Future]) -> None:
        for future in done:
            game = searching.pop(future)
            move, restarts = future.result()
            game.engine_restarts += restarts
            game.push(chess.Move.from_uci(move))
            advance(game)

    while queue or active:
        while queue and free:
            game = queue.popleft()
            game.slot = free.pop()
            policy.new_game(game.slot)
            active[game.slot] = game
            advance(game)
        waiting = set(searching.values())
        turn = [g for g in active.values() if not g.result and g not in waiting and g.model_turn]
        if turn:
            choices = policy.step([Request(g.slot, g.board, g.sans, g.gen) for g in turn])
            for slot, choice in choices.items():
                game = active[slot]
                game.illegal += choice.illegal
                if choice.context_full:
                    game.end("1/2-1/2", "context limit")
                elif choice.resigned:
                    game.model_loses("resigned")
                elif choice.move is None:
                    game.model_loses("forfeit")
                else:
                    game.push(choice.move)
                    advance(game)
            collect([f for f in list(searching) if f.done()])
        elif searching:
            collect(wait(list(searching), return_when=FIRST_COMPLETED).done)
        for slot in [s for s, g in active.items() if g.result]:
            on_finish(active.pop(slot))
            free.append(slot)


def _score(result: str, model_white: bool) -> float:
    return {"1-0": 1.0, "0-1": 0.0, "1/2-1/2": 0.5}[result] if model_white else \
        {"1-0": 0.0, "0-1": 1.0, "1/2-1/2": 0.5}[result]


def _read_partial(table: Path, pgn: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Finished games of an interrupted run: their table rows and PGN texts, in the order
    they were appended (a PGN is flushed before its row, so a PGN without a row is dropped)."""
    if not table.exists() or not pgn.exists():
        return [], []
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    blocks = pgn.read_text().split("\n\n")  # a game is two blocks: its headers, its movetext
    texts = [blocks[2 * i] + "\n\n" + blocks[2 * i + 1] + "\n\n" for i in range(len(blocks) // 2)]
    if len(texts) < len(rows):
        raise ValueError(f"{pgn} holds {len(texts)} games but {table} has {len(rows)} rows; "
                         "delete both .partial files to replay the shard")
    return rows, texts[:len(rows)]


def _write_table(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    with atomic_text(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def options_text(options: Mapping[str, object]) -> str:
    """UCI options as one header value, e.g. ``Threads=1, Hash=16, Skill Level=3``."""
    return ", ".join(f"{k}={v}" for k, v in options.items())


def run_shard(model_path: str | Path, pgn_out: str | Path, table_out: str | Path, *, cap: int,
              temperature: float, opponent: Opponent, games: int, seed: int, mode: str,
              max_tries: int, max_fullmoves: int, engine_path: str, threads: int = 1,
              device: str = "cpu", batch_games: int = 1, log: TextIO = sys.stderr) -> dict[str, object]:
    """Play ``games`` games (alternating colours), ``batch_games`` at a time, resuming from
    partial outputs; the PGN and table list the games in order whatever order they ended in.

    ``threads`` is both the model's CPU threads and the number of engine processes.
    """
    from .train import load_model, pick_device

    torch.set_num_threads(threads)
    model = load_model(model_path, pick_device(device))
    pgn_out, table_out = Path(pgn_out), Path(table_out)
    pgn_part = pgn_out.with_name(pgn_out.name + ".partial")
    table_part = table_out.with_name(table_out.name + ".partial")
    pgn_out.parent.mkdir(parents=True, exist_ok=True)
    table_out.parent.mkdir(parents=True, exist_ok=True)
    done_rows, done_pgns = _read_partial(table_part, pgn_part)
    if done_rows:  # keep exactly the games that have both a PGN and a row
        with atomic_text(pgn_part) as fh:
            fh.writelines(done_pgns)
        _write_table(table_part, done_rows)
        print(f"[evaluate] resuming after {len(done_rows)} finished games", file=log, flush=True)
    else:
        for p in (pgn_part, table_part):
            p.unlink(missing_ok=True)
    options = opponent.engine_options()
    tag = f"[evaluate cap {cap} T={temperature} {opponent.name}]"
    done = {int(r["game"]) for r in done_rows}
    todo = [Game(g, model_white=g % 2 == 0, seed=game_seed(seed, cap, temperature, opponent.name, g))
            for g in range(games) if g not in done]
    slots = max(1, min(batch_games, len(todo)))
    policy = BatchPolicy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries)
    started = time.monotonic()
    with EnginePool(engine_path, options, workers=threads) as engines, \
            open(pgn_part, "a") as pgn_fh, open(table_part, "a", newline="") as table_fh:
        note = options_note(opponent)
        print(f"{tag} engine {engines.name!r}, options {options_text(options)}, limit {dict(opponent.limit)}, "
              f"{slots} game(s) at once, {threads} engine process(es), each search from a cleared engine; "
              f"games reproducible from "
              f"the seed: {f'no ({note})' if note else 'yes'}", file=log, flush=True)
        writer = csv.DictWriter(table_fh, fieldnames=COLUMNS)
        if not done_rows:
            writer.writeheader()
        model_name = f"chessformer-cap{cap}"
        finished = len(done_rows)

        def record(game: Game) -> None:
            nonlocal finished
            headers = {
                "Event": f"Evaluation cap {cap} T={temperature} vs {opponent.name}",
                "Site": "transcendence", "Date": "????.??.??", "Round": str(game.index + 1),
                "White": model_name if game.model_white else opponent.name,
                "Black": opponent.name if game.model_white else model_name,
                "Result": game.result, "Cap": str(cap), "Temperature": str(temperature), "Mode": mode,
                "Opponent": opponent.name, "OpponentRating": str(opponent.rating),
                "SkillLevel": str(opponent.skill_level), "EngineLimit": str(dict(opponent.limit)),
                "OpponentEps": str(opponent.eps), "Engine": engines.name,
                "EngineOptions": options_text(options), "EngineRestarts": str(game.engine_restarts),
                "Seed": str(game.seed), "IllegalTries": str(game.illegal), "Termination": game.termination,
            }
            pgn_fh.write(format_pgn(headers, game.sans, game.result))
            pgn_fh.flush()
            writer.writerow({
                "game": game.index, "model_color": "white" if game.model_white else "black",
                "result": game.result, "model_score": _score(game.result, game.model_white),
                "plies": len(game.sans), "termination": game.termination, "illegal_tries": game.illegal,
                "forfeit": int(game.termination == "forfeit"), "cap": cap, "temperature": temperature,
                "mode": mode, "opponent": opponent.name, "opponent_rating": opponent.rating,
                "engine": engines.name, "engine_options": options_text(options),
                "engine_restarts": game.engine_restarts, "seed": game.seed,
            })
            table_fh.flush()
            os.fsync(table_fh.fileno())
            finished += 1
            rate = (finished - len(done_rows)) / max(time.monotonic() - started, 1e-9)
            print(f"{tag} game {game.index + 1} ({finished}/{games} done) {game.result} ({game.termination}, "
                  f"{len(game.sans)} plies, {game.engine_restarts} engine restarts), "
                  f"ETA {(games - finished) / rate:.0f}s", file=log, flush=True)

        play_games(policy, engines, opponent, todo, max_fullmoves=max_fullmoves, on_finish=record)
        restarts = engines.restarts
        engine_name = engines.name
    rows, pgns = _read_partial(table_part, pgn_part)
    order = sorted(range(len(rows)), key=lambda i: int(rows[i]["game"]))
    with atomic_text(pgn_out) as fh:
        fh.writelines(pgns[i] for i in order)
    _write_table(table_out, [rows[i] for i in order])
    for p in (pgn_part, table_part):
        p.unlink()
    seconds = time.monotonic() - started
    print(f"{tag} {len(todo)} games played in {seconds:.1f}s; engine restarts {restarts}", file=log, flush=True)
    return {"games": games, "played": len(todo), "engine": engine_name, "engine_options": options_text(options),
            "engine_restarts": restarts, "batch_games": slots, "seconds": round(seconds, 2)}


def options_note(opponent: Opponent) -> str:
    """Why the opponent's moves are not reproducible from the seed, or '' when they are."""
    notes = []
    if "time" in opponent.limit:
        notes.append("a time limit depends on the machine's speed")
    if opponent.skill_level is not None and opponent.skill_level < 20:
        notes.append("skill_level: Stockfish seeds its Skill Level choices from the clock")
    return "; ".join(notes)

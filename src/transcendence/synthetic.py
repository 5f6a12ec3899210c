"""Offline games between a population of synthetic, Stockfish-based players.

Lichess is out of reach offline, so the embedded default makes its own "experts": each
player plays the move of a cheap base engine (Stockfish at a small fixed limit) and, with
probability ``eps``, a mistake: a uniformly random legal move. A grid of ``eps`` values
gives a ladder of strengths whose mistakes are independent of each other, which is the
diversity the paper's theory needs. Games are written exactly like a Lichess monthly dump
(PGN headers with ``WhiteElo``/``BlackElo``, zstd-compressed), so the same filter and
serialisation code runs on them as on Lichess.

Every game draws its random choices from a generator seeded by (seed, shard, game), and the
engine's hash is cleared before each game, so a shard is reproducible for a seed.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

import chess

from .files import atomic_text
from .uci import UciEngine


@dataclass(frozen=True)
class Player:
    """A synthetic expert: base engine move with probability 1 - eps, else a random move."""

    name: str
    eps: float
    elo: int


def players_from_config(entries: Sequence[Mapping[str, object]]) -> list[Player]:
    return [Player(str(e["name"]), float(e["eps"]), int(e["elo"])) for e in entries]


def choose_move(board: chess.Board, eps: float, rng: random.Random, engine: UciEngine,
                moves_uci: Sequence[str], limit: Mapping[str, float]) -> chess.Move:
    """A move for a player with mistake rate ``eps`` (``eps = 1`` is the random mover)."""
    if rng.random() < eps:
        return rng.choice(list(board.legal_moves))
    return chess.Move.from_uci(engine.best_move(moves_uci, limit))


Mover = Callable[[chess.Board, Sequence[str]], chess.Move]


def play_moves(white: Mover, black: Mover, max_plies: int) -> tuple[list[str], str, str]:
    """Play one game between two move functions; return (SAN moves, result, termination).

    Each mover gets the board and the UCI moves so far. A game still running after
    ``max_plies`` plies is adjudicated a draw (the paper's context limit).
    """
    board = chess.Board()
    sans: list[str] = []
    moves_uci: list[str] = []
    while not board.is_game_over(claim_draw=False):
        if len(sans) >= max_plies:
            return sans, "1/2-1/2", "Adjudication"
        move = (white if board.turn == chess.WHITE else black)(board, moves_uci)
        sans.append(board.san(move))
        moves_uci.append(move.uci())
        board.push(move)
    return sans, board.result(claim_draw=False), "Normal"


def play_game(white: Player, black: Player, rng: random.Random, engine: UciEngine,
              limit: Mapping[str, float], max_plies: int) -> tuple[list[str], str, str]:
    """Play one game between two players sharing one engine; see :func:`play_moves`."""
    engine.new_game()

    def mover(player: Player) -> Mover:
        return lambda board, moves_uci: choose_move(board, player.eps, rng, engine, moves_uci, limit)

    return play_moves(mover(white), mover(black), max_plies)


def format_pgn(headers: Mapping[str, str], sans: Sequence[str], result: str) -> str:
    """One game in Lichess dump layout: headers, blank line, one-line movetext, blank line."""
    head = "".join(f'[{k} "{v}"]\n' for k, v in headers.items())
    parts = []
    for ply, san in enumerate(sans):
        if ply % 2 == 0:
            parts.append(f"{ply // 2 + 1}. {san}")
        else:
            parts.append(san)
    parts.append(result)
    return head + "\n" + " ".join(parts) + "\n\n"


def generate_shard(out: str | Path, players: Sequence[Player], n_games: int, *, seed: int,
                   shard: int, engine_path: str, limit: Mapping[str, float],
                   max_plies: int, log: TextIO = sys.stderr) -> dict[str, object]:
    """Write ``n_games`` games to ``out`` (``.pgn.zst``); return a summary for the log.

    Pairings and colours are random; both players of a game are distinct.
    """
    if len(players) < 2:
        raise ValueError("the synthetic population needs at least two players")
    started = time.monotonic()
    results = {"1-0": 0, "0-1": 0, "1/2-1/2": 0}
    plies_total = 0
    with UciEngine(engine_path, options={"Threads": 1, "Hash": 16}) as engine, atomic_text(out) as fh:
        for game in range(n_games):
            rng = random.Random(f"{seed}/{shard}/{game}")
            white, black = rng.sample(list(players), 2)
            sans, result, termination = play_game(white, black, rng, engine, limit, max_plies)
            results[result] += 1
            plies_total += len(sans)
            headers = {
                "Event": "Rated synthetic game",
                "Site": f"synthetic/{seed}/{shard}/{game}",
                "Date": "????.??.??",
                "Round": "-",
                "White": white.name,
                "Black": black.name,
                "Result": result,
                "WhiteElo": str(white.elo),
                "BlackElo": str(black.elo),
                "TimeControl": "-",
                "Termination": termination,
            }
            fh.write(format_pgn(headers, sans, result))
            done = game + 1
            if done % 500 == 0 or done == n_games:
                elapsed = time.monotonic() - started
                eta = elapsed / done * (n_games - done)
                print(f"[games shard {shard}] {done}/{n_games} games, {plies_total} plies, "
                      f"{done / elapsed:.1f} games/s, ETA {eta:.0f}s", file=log, flush=True)
        engine_name = engine.name
        restarts = engine.restarts
    return {
        "games": n_games, "results": results, "plies": plies_total,
        "engine": engine_name, "engine_restarts": restarts, "limit": dict(limit),
        "seconds": round(time.monotonic() - started, 2),
    }

"""Offline games between a population of synthetic, Stockfish-based players.

Lichess is out of reach offline, so the embedded default makes its own "experts": each
player plays the move of a cheap base engine (Stockfish at a small fixed limit) and, with
probability ``eps``, a mistake drawn from the player's persona: uniformly over the legal
moves, or weighted towards one kind of move (captures and checks, or pawn moves). A grid of
``eps`` values gives a ladder of strengths. Games are written exactly like a Lichess monthly
dump (PGN headers with ``WhiteElo``/``BlackElo``, zstd-compressed), so the same filter and
serialisation code runs on them as on Lichess.

How diverse the mistakes are is the experiment's knob (the paper's theory says diversity is
what low temperature needs). ``independent``: each mistake is a fresh draw, so players err
in different ways and the majority of the population still plays the engine's move.
``shared``: the mistake in a position is the same for every player (a draw seeded by the
position alone), so where mistakes are frequent the majority plays the mistake and a
majority vote cannot remove it.

Every game draws its random choices from a generator seeded by (seed, shard, game), and the
engine's hash is cleared before each game, so a shard is reproducible for a seed.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

import chess

from .files import atomic_text
from .uci import UciEngine


PERSONAS = ("uniform", "captures", "pawns")
MISTAKES = ("independent", "shared")
_PERSONA_WEIGHT = 4.0  # how much a persona prefers its kind of move over the others


@dataclass(frozen=True)
class Player:
    """A synthetic expert: base engine move with probability 1 - eps, else a mistake."""

    name: str
    eps: float
    elo: int
    persona: str = "uniform"


def players_from_config(entries: Sequence[Mapping[str, object]]) -> list[Player]:
    players = [Player(str(e["name"]), float(e["eps"]), int(e["elo"]), str(e.get("persona", "uniform")))
               for e in entries]
    for p in players:
        if p.persona not in PERSONAS:
            raise ValueError(f"player {p.name!r}: unknown persona {p.persona!r}; use one of {PERSONAS}")
    return players


def _preferred(board: chess.Board, move: chess.Move, persona: str) -> bool:
    if persona == "captures":
        return board.is_capture(move) or board.gives_check(move)
    if persona == "pawns":
        return board.piece_type_at(move.from_square) == chess.PAWN
    return False


def pick_mistake(board: chess.Board, rng: random.Random, persona: str = "uniform",
                 shared_seed: int | None = None) -> chess.Move:
    """A mistake: a legal move drawn by the persona's weights.

    With ``shared_seed`` the draw depends only on (seed, position), so every player who errs
    in this position errs the same way; otherwise it comes from the game's generator.
    """
    moves = list(board.legal_moves)
    if shared_seed is not None:
        key = hashlib.sha256(f"{shared_seed}/{board.epd()}".encode()).digest()
        rng = random.Random(int.from_bytes(key[:8], "big"))
    if persona == "uniform":
        return rng.choice(moves)
    weights = [_PERSONA_WEIGHT if _preferred(board, m, persona) else 1.0 for m in moves]
    return rng.choices(moves, weights)[0]


def choose_move(board: chess.Board, eps: float, rng: random.Random, engine: UciEngine | None,
                moves_uci: Sequence[str], limit: Mapping[str, float], *, persona: str = "uniform",
                shared_seed: int | None = None) -> chess.Move:
    """A move for a player with mistake rate ``eps`` (``eps = 1`` is the random mover)."""
    if rng.random() < eps:
        return pick_mistake(board, rng, persona, shared_seed)
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
              limit: Mapping[str, float], max_plies: int,
              shared_seed: int | None = None) -> tuple[list[str], str, str]:
    """Play one game between two players sharing one engine; see :func:`play_moves`."""
    engine.new_game()

    def mover(player: Player) -> Mover:
        return lambda board, moves_uci: choose_move(board, player.eps, rng, engine, moves_uci, limit,
                                                    persona=player.persona, shared_seed=shared_seed)

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
                   max_plies: int, mistakes: str = "independent",
                   log: TextIO = sys.stderr) -> dict[str, object]:
    """Write ``n_games`` games to ``out`` (``.pgn.zst``); return a summary for the log.

    Pairings and colours are random; both players of a game are distinct. ``mistakes`` is
    ``independent`` or ``shared`` (see the module's docstring).
    """
    if len(players) < 2:
        raise ValueError("the synthetic population needs at least two players")
    if mistakes not in MISTAKES:
        raise ValueError(f"unknown mistakes mode {mistakes!r}; use one of {MISTAKES}")
    shared_seed = seed if mistakes == "shared" else None
    started = time.monotonic()
    results = {"1-0": 0, "0-1": 0, "1/2-1/2": 0}
    plies_total = 0
    with UciEngine(engine_path, options={"Threads": 1, "Hash": 16}) as engine, atomic_text(out) as fh:
        for game in range(n_games):
            rng = random.Random(f"{seed}/{shard}/{game}")
            white, black = rng.sample(list(players), 2)
            sans, result, termination = play_game(white, black, rng, engine, limit, max_plies, shared_seed)
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
        "engine": engine_name, "engine_restarts": restarts, "limit": dict(limit), "mistakes": mistakes,
        "seconds": round(time.monotonic() - started, 2),
    }

"""Offline games between a population of synthetic, Stockfish-based players.

Lichess is out of reach offline, so the embedded default makes its own "experts": each
player (:class:`transcendence.players.player.Player`) plays the move of a cheap base engine
(Stockfish at a small fixed limit) and, with probability ``eps``, a mistake by its persona and
the mistake rule (:mod:`transcendence.players.mistakes`: independent, shared, or a share of
each, the experiment's knob). A grid of ``eps`` values gives a ladder of strengths. Games are
written exactly like a Lichess monthly dump (PGN headers with ``WhiteElo``/``BlackElo``,
zstd-compressed), so the same filter and serialisation code runs on them as on Lichess.

Every game draws its random choices from a generator seeded by (seed, shard, game), and the
engine's hash is cleared before each game, so a shard is reproducible for a seed. That also
lets a killed shard resume: finished games are appended (and synced) to ``<out>.partial``
beside a fingerprint of what decides them (the players with their limits and mistake rules, plies, seed, shard,
engine and options); a re-run of the same work keeps them and plays on from the next game,
other work's partial file is discarded with a log line, and the compressed dump is written
from the whole text at the end, so it is the same bytes as a run that never stopped.

An engine that dies or misbehaves is restarted (:class:`~transcendence.engine.uci.UciEngine`),
and the new process searches with an empty hash: a game it goes on with (or starts, when it
restarted at the game's ``ucinewgame``) may then differ from a crash-free run's. Such a game
says so in an ``EngineRestarts`` header (how many restarts), written only then, so a
crash-free shard keeps its bytes; the summary counts them (``games_with_engine_restarts``).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

import chess

from ..engine.uci import SEARCH_MARGIN, UciEngine, stop_engines_on_sigterm
from ..files import atomic_text, write_json
from ..pgn.text import format_pgn
from ..players.player import ENGINE_OPTIONS, Player


def choose_move(player: Player, board: chess.Board, rng: random.Random, engine: UciEngine | None,
                moves_uci: Sequence[str]) -> chess.Move:
    """The player's move: its mistake, or else the base engine's (``eps = 1`` needs no engine)."""
    mistake = player.mistake(board, rng)
    if mistake is not None:
        return mistake
    return chess.Move.from_uci(engine.best_move(moves_uci, player.limit, board=board))


#: The header of a game during which the engine was restarted (its value: how many times).
RESTART_TAG = '\n[EngineRestarts "'

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
              max_plies: int) -> tuple[list[str], str, str]:
    """Play one game between two players sharing one engine; see :func:`play_moves`."""
    engine.new_game()

    def mover(player: Player) -> Mover:
        return lambda board, moves_uci: choose_move(player, board, rng, engine, moves_uci)

    return play_moves(mover(white), mover(black), max_plies)


def _finished_games(partial: Path, n_games: int) -> list[str]:
    """The complete games of a killed run's partial file, at most ``n_games``.

    A game is headers, a blank line, one movetext line and a blank line, so the text splits
    into (headers, movetext) block pairs; a torn last game (the run died while writing it)
    has no closing blank line and is dropped.
    """
    text = partial.read_text(encoding="utf-8", errors="replace")
    end = text.rfind("\n\n")
    blocks = text[:end].split("\n\n") if end >= 0 else []
    games = [blocks[2 * i] + "\n\n" + blocks[2 * i + 1] + "\n\n" for i in range(len(blocks) // 2)]
    return games[:n_games]


def _game_counts(text: str) -> tuple[str, int]:
    """(result, plies) of one game written by :func:`format_pgn`."""
    headers, movetext = text.split("\n\n")[:2]
    result = headers.split('[Result "', 1)[1].split('"', 1)[0]
    plies = sum(1 for token in movetext.split()[:-1] if not token.endswith("."))
    return result, plies


def generate_shard(out: str | Path, players: Sequence[Player], n_games: int, *, seed: int,
                   shard: int, engine_path: str, max_plies: int, engine_margin: float = SEARCH_MARGIN,
                   log: TextIO = sys.stderr) -> dict[str, object]:
    """Write ``n_games`` games to ``out`` (``.pgn.zst``); return a summary for the log.

    Pairings and colours are random; both players of a game are distinct; each errs by its
    own mistake rule. A killed run of the same work resumes from its partial file; SIGTERM
    stops the engine and the job at once.
    """
    if len(players) < 2:
        raise ValueError("the synthetic population needs at least two players")
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    stamp = out.with_name(out.name + ".partial.fingerprint.json")
    started = time.monotonic()
    results = {"1-0": 0, "0-1": 0, "1/2-1/2": 0}
    plies_total = 0
    with stop_engines_on_sigterm(), \
            UciEngine(engine_path, options=ENGINE_OPTIONS, search_margin=engine_margin) as engine:
        fingerprint = json.loads(json.dumps({
            "players": [p.describe() for p in players], "seed": seed, "shard": shard,
            "max_plies": max_plies, "engine": engine.name, "engine_options": ENGINE_OPTIONS,
        }))
        done: list[str] = []
        if partial.exists():
            try:
                saved = json.loads(stamp.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = None
            if saved == fingerprint:
                done = _finished_games(partial, n_games)
                print(f"[games shard {shard}] resuming after {len(done)} finished games", file=log, flush=True)
            else:
                changed = "no readable fingerprint" if saved is None else "; ".join(
                    f"{k}: {saved.get(k)!r} -> {fingerprint.get(k)!r}"
                    for k in sorted(set(saved) | set(fingerprint)) if saved.get(k) != fingerprint.get(k))
                print(f"[games shard {shard}] discarding {partial} of other work ({changed})", file=log, flush=True)
        write_json(stamp, fingerprint)
        with atomic_text(partial) as fh:  # exactly the kept games, without a torn tail
            fh.writelines(done)
        restarted_games = 0  # games during which the engine was restarted (see the module's docstring)
        for text in done:
            result, plies = _game_counts(text)
            results[result] += 1
            plies_total += plies
            restarted_games += RESTART_TAG in text
        with open(partial, "a", encoding="utf-8", newline="\n") as fh:
            for game in range(len(done), n_games):
                rng = random.Random(f"{seed}/{shard}/{game}")
                white, black = rng.sample(list(players), 2)
                restarts_before = engine.restarts
                sans, result, termination = play_game(white, black, rng, engine, max_plies)
                restarted = engine.restarts - restarts_before
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
                    "WhiteElo": str(white.rating),
                    "BlackElo": str(black.rating),
                    "TimeControl": "-",
                    "Termination": termination,
                }
                if restarted:  # written only then: a crash-free shard keeps its bytes
                    headers["EngineRestarts"] = str(restarted)
                    restarted_games += 1
                fh.write(format_pgn(headers, sans, result))
                fh.flush()
                os.fsync(fh.fileno())
                done_now = game + 1
                if done_now % 500 == 0 or done_now == n_games:
                    elapsed = time.monotonic() - started
                    played = done_now - len(done)
                    eta = elapsed / played * (n_games - done_now)
                    print(f"[games shard {shard}] {done_now}/{n_games} games, {plies_total} plies, "
                          f"{played / elapsed:.1f} games/s, ETA {eta:.0f}s", file=log, flush=True)
        engine_name = engine.name
        restarts = engine.restarts
    with atomic_text(out) as fh:  # one write of the whole text: the same bytes however it was played
        fh.write(partial.read_text(encoding="utf-8"))
    partial.unlink()
    stamp.unlink()
    return {
        "games": n_games, "resumed_after": len(done), "results": results, "plies": plies_total,
        "engine": engine_name, "engine_restarts": restarts, "games_with_engine_restarts": restarted_games,
        "players": [p.describe() for p in players],
        "seconds": round(time.monotonic() - started, 2),
    }

"""Opponent calibration: the evaluation opponents' ratings measured, not assumed.

The paper rated its models against Stockfish Skill Levels whose Elo it took from elsewhere,
measured under other conditions (another Stockfish, another time limit, other hardware).
This module measures them under the evaluation's own engine, limits and options: a round
robin among the opponents and a fixed anchor (for the embedded default the uniform random
mover at 0; for the paper, one Skill Level held at its published value), rated jointly by
maximum likelihood (:func:`transcendence.rating.ladder.fit_ratings`). The ratings stage then uses
these numbers or the configured ones, as the config says.

Every game draws its randomness from a seed made of (seed, pair, game), and games are split
over worker processes by index, so the games do not depend on the number of workers
wherever the opponents' limits are depth or nodes.
"""

from __future__ import annotations

import itertools
import math
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence, TextIO

import pandas as pd

from ..data.synthetic import choose_move, play_moves
from ..engine.uci import UciEngine
from ..files import atomic_text, write_json
from ..pgn.text import format_pgn
from ..players.player import Player
from ..seeds import game_seed
from .ladder import RESULT_SCORES, PlayerRating, fit_ratings

# A rating this far from the anchor means a player won (or lost) every game it played:
# the likelihood has no maximum and the "rating" is only where Newton's method stopped.
_UNIDENTIFIED = 3000.0

CalibrationGame = tuple[int, str, str]  # (game index within its pair, white name, black name)


class CalibrationError(ValueError):
    """The calibration cannot rate its players (bad config, or results with no finite rating)."""


def calibration_players(opponents: Sequence[Player], anchor: Player,
                        extra: Sequence[Player] = ()) -> list[Player]:
    """The round robin's players: the anchor, the opponents and any extra players, each once.

    A player named like the anchor is the anchor (the paper's config anchors one of its own
    levels); two different players with one name are an error.
    """
    players: dict[str, Player] = {anchor.name: anchor}
    for p in [*opponents, *extra]:
        known = players.get(p.name)
        if known is None:
            players[p.name] = p
        elif known.describe() | {"rating": None} != p.describe() | {"rating": None}:
            raise CalibrationError(f"two different calibration players are both named {p.name!r}")
    if len(players) < 2:
        raise CalibrationError("calibration needs the anchor and at least one other player")
    return list(players.values())


def schedule(players: Sequence[Player], games_per_pair: int) -> list[CalibrationGame]:
    """Every pair plays ``games_per_pair`` games, colours alternating within the pair."""
    out = []
    for a, b in itertools.combinations([p.name for p in players], 2):
        for game in range(games_per_pair):
            out.append((game, a, b) if game % 2 == 0 else (game, b, a))
    return out


def _play_chunk(players: Sequence[Player], games: Sequence[CalibrationGame], seed: int,
                engine_path: str, max_plies: int) -> list[tuple[CalibrationGame, list[str], str, str, str]]:
    """Play some of the schedule in this process, one engine per engine-using player."""
    by_name = {p.name: p for p in players}
    engines: dict[str, UciEngine] = {}
    try:
        for p in players:
            if p.uses_engine:
                engines[p.name] = UciEngine(engine_path, options=p.engine_options()).__enter__()
        engine_name = next(iter(engines.values())).name if engines else "none"
        out = []
        for game in games:
            index, white, black = game
            rng = random.Random(game_seed(seed, "calibration", *sorted((white, black)), index))
            for name in (white, black):
                if name in engines:
                    engines[name].new_game()

            def mover(name: str):
                return lambda board, moves_uci: choose_move(by_name[name], board, rng, engines.get(name), moves_uci)

            sans, result, termination = play_moves(mover(white), mover(black), max_plies)
            out.append((game, sans, result, termination, engine_name))
        return out
    finally:
        for engine in engines.values():
            engine.__exit__(None, None, None)


def play_schedule(players: Sequence[Player], games: Sequence[CalibrationGame], *, seed: int,
                  engine_path: str, max_plies: int, workers: int = 1,
                  log: TextIO = sys.stderr) -> list[tuple[CalibrationGame, list[str], str, str, str]]:
    """Play the schedule over ``workers`` processes; results in schedule order."""
    workers = max(1, min(workers, len(games)))
    chunks = [list(games[i::workers]) for i in range(workers)]
    started = time.monotonic()
    if workers == 1:
        results = [_play_chunk(players, chunks[0], seed, engine_path, max_plies)]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_play_chunk, [players] * workers, chunks, [seed] * workers,
                                    [engine_path] * workers, [max_plies] * workers))
    played = {r[0]: r for chunk in results for r in chunk}
    print(f"[calibration] {len(games)} games in {time.monotonic() - started:.1f}s on {workers} workers",
          file=log, flush=True)
    return [played[g] for g in games]


def check_identified(ratings: Sequence[PlayerRating], anchor: Player) -> None:
    for r in ratings:
        if not math.isfinite(r.rating) or abs(r.rating - anchor.rating) > _UNIDENTIFIED \
                or not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high)):
            raise CalibrationError(
                f"calibration player {r.name!r} has no finite rating (it won or lost every game it "
                f"played); add an opponent of intermediate strength or more games per pair")


def calibrate(opponents: Sequence[Player], anchor: Player, *, games_per_pair: int, seed: int,
              engine_path: str, max_fullmoves: int, pgn_out: str | Path, csv_out: str | Path,
              json_out: str | Path, extra: Sequence[Player] = (), workers: int = 1,
              log: TextIO = sys.stderr) -> list[PlayerRating]:
    """Play the round robin, rate everyone with ``anchor`` fixed, write games and ratings."""
    players = calibration_players(opponents, anchor, extra)
    games = schedule(players, games_per_pair)
    print(f"[calibration] {len(players)} players ({', '.join(p.name for p in players)}), "
          f"{len(games)} games, anchor {anchor.name} = {anchor.rating:g}", file=log, flush=True)
    played = play_schedule(players, games, seed=seed, engine_path=engine_path,
                           max_plies=2 * max_fullmoves, workers=workers, log=log)
    engine_names = sorted({r[4] for r in played} - {"none"})
    with atomic_text(pgn_out) as fh:
        for (index, white, black), sans, result, termination, engine_name in played:
            fh.write(format_pgn({
                "Event": "Opponent calibration", "Site": "transcendence", "Date": "????.??.??",
                "Round": str(index + 1), "White": white, "Black": black, "Result": result,
                "Engine": engine_name, "Termination": termination}, sans, result))
    ratings = fit_ratings([(w, b, RESULT_SCORES[result]) for (_, w, b), _, result, _, _ in played],
                          anchor.name, anchor.rating)
    check_identified(ratings, anchor)
    by_name = {p.name: p for p in players}
    table = []
    for r in sorted(ratings, key=lambda r: r.rating):
        p = by_name[r.name]
        table.append({"name": r.name, "skill_level": "" if p.skill_level is None else p.skill_level, "eps": p.eps,
                      "limit": ";".join(f"{k}={v}" for k, v in p.limit.to_config().items()), "configured_rating": p.rating,
                      "rating": round(r.rating, 1), "ci_low": round(r.ci_low, 1), "ci_high": round(r.ci_high, 1),
                      "games": r.games, "anchor": int(r.name == anchor.name), "engine": ";".join(engine_names)})
    with atomic_text(csv_out) as fh:
        # Each value as Python prints it, with the csv module's CRLF line ends: the bytes as before.
        pd.DataFrame(table, dtype=object).to_csv(fh, index=False, lineterminator="\r\n")
    write_json(json_out, {
        "anchor": {"name": anchor.name, "rating": anchor.rating},
        "games_per_pair": games_per_pair, "engine": engine_names,
        "ratings": {r.name: {"rating": round(r.rating, 1), "ci_low": round(r.ci_low, 1),
                             "ci_high": round(r.ci_high, 1), "games": r.games} for r in ratings},
    })
    return ratings


def read_calibrated(csv_path: str | Path) -> dict[str, float]:
    """Measured rating per player name from a calibration table."""
    table = pd.read_csv(csv_path, dtype={"name": str})
    return dict(zip(table["name"], table["rating"].astype(float).tolist()))

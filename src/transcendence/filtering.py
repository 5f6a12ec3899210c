"""The rating-cap filter: one streaming pass routes each game to every cap it fits.

STUDY.md: a game is kept for cap R when both ``WhiteElo`` and ``BlackElo`` are at most R;
caps are nested, with no floor; games whose result is missing or ``*`` are dropped. Only
standard chess is kept. Every dropped game is counted by reason, so a count is never
silently wrong.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Mapping, TextIO

from .files import atomic_text, write_json
from .pgn_stream import iter_games

RESULTS = {"1-0", "0-1", "1/2-1/2"}


def drop_reason(tags: Mapping[str, str], malformed: str, movetext: str = "1.") -> str:
    """Why a game cannot be used for any cap ("" when it can)."""
    first = movetext.split(None, 1)[:1]  # the first token, if any
    if malformed == "no movetext" or not first or first[0] in RESULTS or first[0] == "*":
        return "no_moves"
    if malformed:
        return "malformed"
    variant = tags.get("Variant", "Standard")
    if variant not in ("Standard", "From Position") or "FEN" in tags or "SetUp" in tags:
        return "variant"
    if tags.get("Result") not in RESULTS:
        return "unfinished"
    white, black = tags.get("WhiteElo", "?"), tags.get("BlackElo", "?")
    if not (white.isdigit() and black.isdigit()):
        return "unrated"
    return ""


def filter_dump(dump: str | Path, outputs: Mapping[int, str | Path], stats_path: str | Path,
                log: TextIO = sys.stderr) -> dict[str, object]:
    """Write the games of ``dump`` that fit each cap to ``outputs[cap]``; write statistics."""
    caps = sorted(outputs)
    kept: Counter[int] = Counter()
    dropped: Counter[str] = Counter()
    best: dict[int, int] = {cap: 0 for cap in caps}
    players: dict[int, set[str]] = {cap: set() for cap in caps}
    examples: dict[str, str] = {}
    read = 0
    started = time.monotonic()
    with ExitStack() as stack:
        sinks = {cap: stack.enter_context(atomic_text(outputs[cap])) for cap in caps}
        for game in iter_games(dump):
            read += 1
            reason = drop_reason(game.tags, game.malformed, game.movetext)
            if reason:
                dropped[reason] += 1
                examples.setdefault(reason, f"{dump}: line {game.line}: {game.malformed or reason}")
                continue
            top = max(int(game.tags["WhiteElo"]), int(game.tags["BlackElo"]))
            text = None
            for cap in caps:
                if top <= cap:
                    text = text or game.text()
                    sinks[cap].write(text)
                    kept[cap] += 1
                    best[cap] = max(best[cap], top)
                    players[cap].update((game.tags.get("White", ""), game.tags.get("Black", "")))
            if read % 200_000 == 0:
                rate = read / (time.monotonic() - started)
                print(f"[filter {Path(dump).name}] {read} games read, {rate:.0f} games/s", file=log, flush=True)
    stats = {
        "dump": str(dump),
        "games_read": read,
        "kept_per_cap": {str(cap): kept[cap] for cap in caps},
        "dropped": dict(sorted(dropped.items())),
        "dropped_examples": examples,
        "best_rating_per_cap": {str(cap): best[cap] for cap in caps},
        "players_per_cap": {str(cap): len(players[cap] - {""}) for cap in caps},
        "seconds": round(time.monotonic() - started, 3),
    }
    write_json(stats_path, stats)
    print(f"[filter {Path(dump).name}] done: {read} read, kept {stats['kept_per_cap']}, "
          f"dropped {stats['dropped']}", file=log, flush=True)
    return stats

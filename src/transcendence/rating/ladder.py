"""Ratings of the synthetic players measured from their own games.

The PGN headers carry each player's configured Elo; this module measures the ladder instead,
by a joint maximum-likelihood fit (Bradley-Terry on the Elo scale, a draw counting as half a
win and half a loss) of every player's rating from the games among them, with one player
fixed at its configured rating as the anchor. Comparing the two says whether the configured
ladder is the one the games actually show.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..files import atomic_text
from ..pgn.stream import iter_games
from .systems import chi2_1_quantile

_SCALE = math.log(10) / 400.0
#: White's score for each PGN result (a draw is half a win and half a loss).
RESULT_SCORES = {"1-0": 1.0, "0-1": 0.0, "1/2-1/2": 0.5}


@dataclass(frozen=True)
class PlayerRating:
    name: str
    rating: float
    ci_low: float
    ci_high: float
    games: int


def results_from_dumps(paths: Iterable[str | Path]) -> list[tuple[str, str, float]]:
    """(white, black, white's score) for every finished game in the dumps."""
    out = []
    for path in paths:
        for game in iter_games(path):
            score = RESULT_SCORES.get(game.tags.get("Result", ""))
            if score is not None and not game.malformed:
                out.append((game.tags["White"], game.tags["Black"], score))
    return out


def fit_ratings(games: Sequence[tuple[str, str, float]], anchor: str, anchor_rating: float,
                level: float = 0.95, iterations: int = 100) -> list[PlayerRating]:
    """Joint ML ratings with Wald intervals, ``anchor`` fixed at ``anchor_rating``.

    Newton's method on the concave log-likelihood; the anchor's row and column are removed,
    which is what makes the problem identifiable.
    """
    names = sorted({w for w, _, _ in games} | {b for _, b, _ in games})
    if anchor not in names:
        raise ValueError(f"anchor player {anchor!r} played no game (players: {names})")
    index = {n: i for i, n in enumerate(names)}
    w = np.array([index[g[0]] for g in games])
    b = np.array([index[g[1]] for g in games])
    s = np.array([g[2] for g in games], dtype=float)
    free = [i for i, n in enumerate(names) if n != anchor]
    r = np.zeros(len(names))
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-_SCALE * (r[w] - r[b])))
        grad = np.zeros(len(names))
        np.add.at(grad, w, _SCALE * (s - p))
        np.add.at(grad, b, -_SCALE * (s - p))
        v = _SCALE ** 2 * p * (1 - p)
        hess = np.zeros((len(names), len(names)))
        np.add.at(hess, (w, w), -v)
        np.add.at(hess, (b, b), -v)
        np.add.at(hess, (w, b), v)
        np.add.at(hess, (b, w), v)
        h = hess[np.ix_(free, free)]
        step = np.linalg.solve(h, -grad[free])
        r[free] += np.clip(step, -400, 400)
        if np.max(np.abs(step)) < 1e-9:
            break
    cov = np.linalg.inv(-h)
    z = math.sqrt(chi2_1_quantile(level))  # the two-sided normal quantile
    counts: Mapping[int, int] = defaultdict(int)
    for i in np.concatenate([w, b]):
        counts[int(i)] += 1
    out = []
    for i, name in enumerate(names):
        rating = anchor_rating + r[i]
        half = 0.0 if name == anchor else z * math.sqrt(cov[free.index(i), free.index(i)])
        out.append(PlayerRating(name, float(rating), float(rating - half), float(rating + half), counts[i]))
    return out


def write_player_ratings(dumps: Sequence[str | Path], players: Sequence[Mapping[str, object]],
                         anchor: str, out: str | Path) -> list[PlayerRating]:
    """Measure the ladder from the dumps and write it beside the configured ratings."""
    configured = {str(p["name"]): p for p in players}
    if anchor not in configured:
        raise ValueError(f"synthetic.anchor {anchor!r} is not one of the players {sorted(configured)}")
    fitted = fit_ratings(results_from_dumps(dumps), anchor, float(configured[anchor]["elo"]))
    table = []
    for p in sorted(fitted, key=lambda p: p.rating):
        c = configured.get(p.name, {})
        table.append({"player": p.name, "eps": c.get("eps", ""), "configured_elo": c.get("elo", ""),
                      "rating": f"{p.rating:.1f}", "ci_low": f"{p.ci_low:.1f}", "ci_high": f"{p.ci_high:.1f}",
                      "games": p.games, "anchor": int(p.name == anchor)})
    with atomic_text(out) as fh:  # each configured value as Python prints it
        pd.DataFrame(table, dtype=object).to_csv(fh, index=False, lineterminator="\n")
    return fitted

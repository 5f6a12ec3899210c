"""From per-game tables to one rating per (cap, temperature).

Two estimates sit side by side: the order-independent maximum-likelihood Elo against the
fixed opponents with a likelihood-ratio 95% interval (the headline ``rating``), and the
paper's sequential Glicko-2 (one period per game, opponents with RD 0). Forfeits count as
losses. ``above_best`` is the transcendence test: the whole interval lies above the
highest-rated player in that cap's training data; ``verdict`` says it in words, and also
when the whole interval lies below that player (``below``) or straddles it (``inconclusive``).

The opponents' ratings are the configured anchors or, with ``anchors = "calibrated"``, the
ones the calibration round robin measured; the best player in a cap's data is then measured
the same way where the data's players took part (synthetic source), so the model and the
players it learned from sit on one scale.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..files import atomic_text, write_json
from .systems import Glicko2, elo_mle, glicko2_sequential

COLUMNS = ["cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses",
           "forfeits", "at_bound", "glicko2_rating", "glicko2_rd", "best_in_data", "above_best",
           "best_player", "h2h_games", "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict",
           "mean_illegal_tries", "mode", "engine", "anchors", "verdict"]


# The evaluation table's fields the ratings read, and the type each must parse as.
_FIELDS = {"game": int, "cap": int, "temperature": float, "model_score": float, "opponent_rating": float,
           "forfeit": int, "illegal_tries": int, "opponent": str, "mode": str, "engine": str}


def read_tables(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    """Every row of the evaluation tables, each checked to hold the fields the ratings read.

    A row that does not (a torn line, a hand edit) stops the stage with its file and line,
    rather than as a bare ``int()`` error later, from a row no message could locate.
    """
    rows: list[dict[str, str]] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                for name, kind in _FIELDS.items():
                    value = row.get(name)
                    try:
                        if value is None:
                            raise ValueError
                        kind(value)
                    except ValueError:
                        raise ValueError(f"{path}, line {reader.line_num}: field {name!r} is {value!r}, "
                                         f"not {'a number' if kind is not str else 'present'}; "
                                         "re-run that evaluation shard") from None
                rows.append(row)
    return rows


def best_in_data(filter_stats: Sequence[Mapping[str, object]], *,
                 players: Sequence[Mapping[str, object]] = (),
                 measured: Mapping[str, float] | None = None) -> dict[int, float]:
    """The highest rating among the players in each cap's data.

    From the filter's statistics (the PGN headers' ratings), unless the players were measured
    by the calibration: then a cap's best is the highest measured rating among the players
    whose configured rating is within the cap (those are the ones the cap keeps).
    """
    best: dict[int, float] = {}
    for stats in filter_stats:
        for cap, rating in stats["best_rating_per_cap"].items():  # type: ignore[union-attr]
            best[int(cap)] = max(best.get(int(cap), float("-inf")), float(rating))
    if measured is not None and players:
        for cap in best:
            inside = [measured[str(p["name"])] for p in players
                      if float(p["elo"]) <= cap and str(p["name"]) in measured]
            if inside:
                best[cap] = max(inside)
    return best


def best_players(players: Sequence[Mapping[str, object]], caps: Iterable[int],
                 measured: Mapping[str, float] | None = None) -> dict[int, str]:
    """The name of the strongest player in each cap's data (synthetic source; none for Lichess).

    The players a cap keeps are those whose configured rating is within it; the strongest is
    the one with the highest measured rating when the calibration measured them, else the
    highest configured one.
    """
    best: dict[int, str] = {}
    for cap in caps:
        inside = [p for p in players if float(p["elo"]) <= cap]
        if inside:
            key = (lambda p: measured.get(str(p["name"]), float(p["elo"]))) if measured else (lambda p: float(p["elo"]))
            best[cap] = str(max(inside, key=key)["name"])
    return best


def head_to_head(scores: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean score and its 95% percentile-bootstrap interval over games (resampled, seeded)."""
    values = np.asarray(scores, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[draws].mean(axis=1)
    return float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def verdict(ci_low: float, ci_high: float, best: float) -> str:
    """Transcendence as a test of the interval against the best player in the data."""
    if best != best:  # unknown best player
        return "unknown"
    if ci_low > best:
        return "transcends"
    if ci_high < best:
        return "below"
    return "inconclusive"


def rate_rows(rows: Sequence[Mapping[str, str]], best_by_cap: Mapping[int, float], *,
              glicko_start: Glicko2, tau: float, opponent_ratings: Mapping[str, float] | None = None,
              anchors: str = "configured", best_player_by_cap: Mapping[int, str] | None = None
              ) -> list[dict[str, object]]:
    """One summary row per (cap, temperature), sorted by cap then temperature.

    ``opponent_ratings`` (by opponent name) replaces the ratings written in the game rows.
    ``best_player_by_cap`` names the strongest player in each cap's data; where that player
    was an evaluation opponent, the row also holds the direct test: the model's mean score
    against it over their games, with a bootstrap interval, and ``h2h_verdict`` (transcends
    when the whole interval is above one half). With most games drawn, scores against
    opponents of different strength fit one logistic rating poorly, so this head-to-head
    score is the cleaner test of "plays above the best player it learned from".
    """
    groups: dict[tuple[int, float], list[Mapping[str, str]]] = defaultdict(list)
    for row in rows:
        groups[(int(row["cap"]), float(row["temperature"]))].append(row)

    def opponent_rating(game: Mapping[str, str]) -> float:
        if opponent_ratings is None:
            return float(game["opponent_rating"])
        if game["opponent"] not in opponent_ratings:
            raise ValueError(f"opponent {game['opponent']!r} has no calibrated rating "
                             f"(calibrated: {sorted(opponent_ratings)})")
        return opponent_ratings[game["opponent"]]

    out = []
    for (cap, temp), games in sorted(groups.items()):
        # A fixed, documented order for the order-dependent Glicko-2: opponent, then game index.
        games = sorted(games, key=lambda r: (r["opponent"], int(r["game"])))
        pairs = [(opponent_rating(g), float(g["model_score"])) for g in games]
        mle = elo_mle(pairs)
        glicko = glicko2_sequential(pairs, start=glicko_start, tau=tau)
        scores = [p[1] for p in pairs]
        best = best_by_cap.get(cap, float("nan"))
        name = (best_player_by_cap or {}).get(cap, "")
        h2h = [float(g["model_score"]) for g in games if name and g["opponent"] == name]
        if h2h:
            # The seed names the (cap, temperature): the interval does not move between runs.
            score, low, high = head_to_head(h2h, seed=int(cap * 1e6 + round(temp * 1e4)))
            h2h_fields = {"h2h_games": len(h2h), "h2h_score": round(score, 4), "h2h_ci_low": round(low, 4),
                          "h2h_ci_high": round(high, 4), "h2h_verdict": verdict(low, high, 0.5)}
        else:
            h2h_fields = {"h2h_games": 0, "h2h_score": "", "h2h_ci_low": "", "h2h_ci_high": "", "h2h_verdict": ""}
        out.append({
            "cap": cap, "temperature": temp,
            "rating": round(mle.rating, 1), "ci_low": round(mle.ci_low, 1), "ci_high": round(mle.ci_high, 1),
            "games": len(games), "wins": scores.count(1.0), "draws": scores.count(0.5),
            "losses": scores.count(0.0), "forfeits": sum(int(g["forfeit"]) for g in games),
            "at_bound": int(mle.at_bound),
            "glicko2_rating": round(glicko.rating, 1), "glicko2_rd": round(glicko.rd, 1),
            "best_in_data": best, "above_best": int(mle.ci_low > best),
            "mean_illegal_tries": round(sum(int(g["illegal_tries"]) for g in games) / len(games), 3),
            "mode": ";".join(sorted({g["mode"] for g in games})),
            "engine": ";".join(sorted({g["engine"] for g in games})),
            "anchors": anchors, "verdict": verdict(mle.ci_low, mle.ci_high, best),
            "best_player": name, **h2h_fields,
        })
    return out


def write_ratings(rows: Sequence[Mapping[str, object]], csv_out: str | Path, md_out: str | Path,
                  json_out: str | Path | None = None) -> None:
    """The table as CSV and Markdown, and (for ``dvc metrics``) the ratings as JSON."""
    if json_out is not None:
        metrics: dict[str, dict[str, dict[str, object]]] = {}
        for r in rows:
            metrics.setdefault(f"cap{r['cap']}", {})[f"T{r['temperature']}"] = {
                k: r[k] for k in ("rating", "ci_low", "ci_high", "games", "above_best")}
        write_json(json_out, metrics)
    with atomic_text(csv_out) as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    shown = ["cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses",
             "forfeits", "glicko2_rating", "glicko2_rd", "best_in_data", "verdict", "best_player", "h2h_games",
             "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict"]
    with atomic_text(md_out) as fh:
        fh.write("| " + " | ".join(shown) + " |\n")
        fh.write("|" + "---|" * len(shown) + "\n")
        for row in rows:
            fh.write("| " + " | ".join(str(row[c]) for c in shown) + " |\n")

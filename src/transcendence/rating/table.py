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

import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..files import atomic_text, write_json
from .systems import Glicko2, elo_mle, glicko2_sequential

RATINGS_COLUMNS = ["cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses",
                   "forfeits", "at_bound", "glicko2_rating", "glicko2_rd", "best_in_data", "above_best",
                   "best_player", "h2h_games", "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict",
                   "mean_illegal_tries", "mode", "engine", "anchors", "verdict"]


# The evaluation table's fields the ratings read, and the type each must parse as.
_FIELDS = {"game": int, "cap": int, "temperature": float, "model_score": float, "opponent_rating": float,
           "forfeit": int, "illegal_tries": int, "opponent": str, "mode": str, "engine": str}
# The model's score for each (result, model_color): what model_score must say.
_SCORES = {("1-0", "white"): 1.0, ("1-0", "black"): 0.0, ("0-1", "white"): 0.0, ("0-1", "black"): 1.0,
           ("1/2-1/2", "white"): 0.5, ("1/2-1/2", "black"): 0.5}
_CHECKED = [*_FIELDS, "result", "model_color"]


def _field_problem(name: str, kind: type, value: str) -> str | None:
    """What is wrong with one field read as text, as :func:`rate_rows` will convert it, or None.

    A text field must not be empty: pandas reads the fields a torn row lacks as ``''``, and no
    shard writes an empty opponent, mode or engine. A number must be finite: ``float`` reads
    ``nan`` and ``inf``, which would reach the rating fit as a score or an opponent's rating.
    """
    if kind is str:
        return None if value != "" else f"field {name!r} is '', not present"
    try:
        number = kind(value)
    except ValueError:
        return f"field {name!r} is {value!r}, not a number"
    if not math.isfinite(number):
        return f"field {name!r} is {value!r}, not a finite number"
    return None


def _row_problem(row: Mapping[str, str]) -> str | None:
    """What is wrong with one evaluation row, or None: a field that does not parse, or a score
    its result and colour do not give (a hand edit that would move the rating silently)."""
    for name, kind in _FIELDS.items():
        problem = _field_problem(name, kind, row[name])
        if problem:
            return problem
    if row["forfeit"] not in ("0", "1"):
        return f"field 'forfeit' is {row['forfeit']!r}, not 0 or 1"
    expected = _SCORES.get((row["result"], row["model_color"]))
    if expected is None:
        return (f"fields 'result', 'model_color' are {row['result']!r}, {row['model_color']!r}, "
                f"not a result of {sorted({r for r, _ in _SCORES})} and white or black")
    if float(row["model_score"]) != expected:
        return (f"field 'model_score' is {row['model_score']!r}, but the result {row['result']} "
                f"with the model as {row['model_color']} scores {expected}")
    return None


def read_tables(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every row of the evaluation tables, as text, each checked to hold the fields the ratings read.

    A row that does not (a torn line, a hand edit, a score its result contradicts) stops the
    stage with its file, line and field, rather than as a bare ``int()`` error later, from a
    row no message could locate, or as a rating moved without a word.
    """
    tables = []
    for path in paths:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)  # a missing field reads as ''
        for name in _CHECKED:
            if name not in table:
                raise ValueError(f"{path} has no field {name!r}; re-run that evaluation shard")
        for row, record in enumerate(table[_CHECKED].to_dict("records")):
            problem = _row_problem(record)
            if problem:  # line 1 is the header
                raise ValueError(f"{path}, line {row + 2}: {problem}; re-run that evaluation shard")
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(_FIELDS))


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


def rate_rows(rows: pd.DataFrame | Sequence[Mapping[str, str]], best_by_cap: Mapping[int, float], *,
              glicko_start: Glicko2, tau: float, opponent_ratings: Mapping[str, float] | None = None,
              anchors: str = "configured", best_player_by_cap: Mapping[int, str] | None = None
              ) -> list[dict[str, object]]:
    """One summary row per (cap, temperature), sorted by cap then temperature.

    ``rows`` are evaluation games as :func:`read_tables` reads them (or as dicts of text).

    ``opponent_ratings`` (by opponent name) replaces the ratings written in the game rows.
    ``best_player_by_cap`` names the strongest player in each cap's data; where that player
    was an evaluation opponent, the row also holds the direct test: the model's mean score
    against it over their games, with a bootstrap interval, and ``h2h_verdict`` (transcends
    when the whole interval is above one half). With most games drawn, scores against
    opponents of different strength fit one logistic rating poorly, so this head-to-head
    score is the cleaner test of "plays above the best player it learned from".
    """
    games = pd.DataFrame(rows)
    if games.empty:
        return []
    games = games.astype(_FIELDS)
    if opponent_ratings is not None:
        unknown = sorted(set(games["opponent"]) - set(opponent_ratings))
        if unknown:
            raise ValueError(f"opponent {unknown[0]!r} has no calibrated rating "
                             f"(calibrated: {sorted(opponent_ratings)})")
        games["opponent_rating"] = games["opponent"].map(opponent_ratings)

    out = []
    for (cap, temp), group in games.groupby(["cap", "temperature"]):
        # A fixed, documented order for the order-dependent Glicko-2: opponent, then game index.
        group = group.sort_values(["opponent", "game"], kind="stable")
        scores = group["model_score"].tolist()
        pairs = list(zip(group["opponent_rating"].tolist(), scores))
        mle = elo_mle(pairs)
        glicko = glicko2_sequential(pairs, start=glicko_start, tau=tau)
        best = best_by_cap.get(cap, float("nan"))
        name = (best_player_by_cap or {}).get(cap, "")
        h2h = group.loc[group["opponent"] == name, "model_score"].tolist() if name else []
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
            "games": len(group), "wins": scores.count(1.0), "draws": scores.count(0.5),
            "losses": scores.count(0.0), "forfeits": int(group["forfeit"].sum()),
            "at_bound": int(mle.at_bound),
            "glicko2_rating": round(glicko.rating, 1), "glicko2_rd": round(glicko.rd, 1),
            "best_in_data": best, "above_best": int(mle.ci_low > best),
            "mean_illegal_tries": round(int(group["illegal_tries"].sum()) / len(group), 3),
            "mode": ";".join(sorted(set(group["mode"]))),
            "engine": ";".join(sorted(set(group["engine"]))),
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
        # Each value as Python prints it, CRLF line ends and an unknown best as "nan": the bytes
        # the csv module wrote before.
        pd.DataFrame(rows, columns=RATINGS_COLUMNS, dtype=object).to_csv(
            fh, index=False, lineterminator="\r\n", na_rep="nan")
    shown = ["cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses",
             "forfeits", "glicko2_rating", "glicko2_rd", "best_in_data", "verdict", "best_player", "h2h_games",
             "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict"]
    with atomic_text(md_out) as fh:
        fh.write("| " + " | ".join(shown) + " |\n")
        fh.write("|" + "---|" * len(shown) + "\n")
        for row in rows:
            fh.write("| " + " | ".join(str(row[c]) for c in shown) + " |\n")

"""From per-game tables to one rating per (cap, temperature).

Two estimates sit side by side: the order-independent maximum-likelihood Elo against the
fixed opponents with a likelihood-ratio 95% interval (the headline ``rating``), and the
paper's sequential Glicko-2 (one period per game, opponents with RD 0), beside its range over
random orders of the same games. Forfeits count as losses. The transcendence test is
``verdict``: the interval of the model's rating minus the best player's in that cap's data
(``minus_best``) lies above 0 (``transcends``), below it (``below``) or straddles it
(``inconclusive``). ``above_best`` is the cruder test of the model's interval against that
player's point rating.

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
from ..game_row import row_types
from .calibrated import Calibration
from .difference import rating_difference
from .pairs import SequentialTest, pair_scores, pentanomial
from .systems import Glicko2, elo_mle, glicko2_sequential

RATINGS_COLUMNS = [
    "cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses", "forfeits", "at_bound",
    "best_player", "best_in_data", "best_ci_low", "best_ci_high", "above_best",
    "minus_best", "minus_best_ci_low", "minus_best_ci_high", "minus_best_at_bound", "minus_best_method",
    "h2h_games", "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict",
    "h2h_pairs", "h2h_pentanomial", "h2h_pair_score", "h2h_pair_ci_low", "h2h_pair_ci_high", "h2h_pair_verdict",
    "gsprt_llr", "gsprt_lower", "gsprt_upper", "gsprt_decision",
    "glicko2_rating", "glicko2_rd", "glicko2_shuffled_median", "glicko2_shuffled_low", "glicko2_shuffled_high",
    "mean_illegal_tries", "mode", "engine", "anchors", "verdict"]


# The evaluation table's fields the ratings read, and the type each must parse as.
_FIELDS = row_types("game", "cap", "temperature", "model_score", "opponent_rating", "forfeit", "illegal_tries",
                    "opponent", "mode", "engine")
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


def glicko2_shuffled(pairs: Sequence[tuple[float, float]], *, start: Glicko2, tau: float, shuffles: int,
                     seed: int) -> tuple[float, float, float]:
    """Sequential Glicko-2's median and 95% range over ``shuffles`` seeded orders of the games.

    The sequential rating weighs recent games more, so its value depends on the order the
    games are fed in; the range says how much, for the same games.
    """
    rng = np.random.default_rng(seed)
    ratings = []
    for _ in range(shuffles):
        order = rng.permutation(len(pairs))
        ratings.append(glicko2_sequential([pairs[i] for i in order], start=start, tau=tau).rating)
    return (float(np.median(ratings)), float(np.quantile(ratings, 0.025)), float(np.quantile(ratings, 0.975)))


def _minus_best(group: pd.DataFrame, mle, best: float, name: str,
                calibration: Calibration | None) -> dict[str, object]:
    """The model's rating minus the best player's: jointly with the calibration where that player
    took part in it (``joint``), else with the best player's rating taken as exact (``point``)."""
    if calibration is not None and name in calibration.ratings:
        diff = rating_difference(calibration.games, list(zip(group["opponent"], group["model_score"])), best=name,
                                 anchor=calibration.anchor)
        low, estimate, high, at_bound, method = diff.ci_low, diff.estimate, diff.ci_high, diff.at_bound, "joint"
    elif best == best:
        low, estimate, high, at_bound, method = (mle.ci_low - best, mle.rating - best, mle.ci_high - best,
                                                 mle.at_bound, "point")
    else:
        return {"minus_best": "", "minus_best_ci_low": "", "minus_best_ci_high": "", "minus_best_at_bound": "",
                "minus_best_method": ""}
    return {"minus_best": round(estimate, 1), "minus_best_ci_low": round(low, 1),
            "minus_best_ci_high": round(high, 1), "minus_best_at_bound": int(at_bound), "minus_best_method": method}


def _head_to_head(games: pd.DataFrame, seed: int, sequential: SequentialTest) -> dict[str, object]:
    """The model against the best player: per game, per colour-swapped pair, and the GSPRT on the pairs."""
    empty = {k: "" for k in RATINGS_COLUMNS if k.startswith(("h2h_", "gsprt_"))}
    if games.empty:
        return empty | {"h2h_games": 0, "h2h_pairs": 0}
    score, low, high = head_to_head(games["model_score"].tolist(), seed=seed)
    out = empty | {"h2h_games": len(games), "h2h_score": round(score, 4), "h2h_ci_low": round(low, 4),
                   "h2h_ci_high": round(high, 4), "h2h_verdict": verdict(low, high, 0.5)}
    pairs = pair_scores(dict(zip(games["game"].tolist(), games["model_score"].tolist())))
    counts = pentanomial(pairs)
    pair_score, pair_low, pair_high = head_to_head(pairs, seed=seed)
    llr = sequential.llr(counts)
    return out | {"h2h_pairs": len(pairs), "h2h_pentanomial": "/".join(map(str, counts)),
                  "h2h_pair_score": round(pair_score, 4), "h2h_pair_ci_low": round(pair_low, 4),
                  "h2h_pair_ci_high": round(pair_high, 4), "h2h_pair_verdict": verdict(pair_low, pair_high, 0.5),
                  "gsprt_llr": round(llr, 3), "gsprt_lower": round(sequential.lower, 3),
                  "gsprt_upper": round(sequential.upper, 3), "gsprt_decision": sequential.decision(llr)}


def rate_rows(rows: pd.DataFrame | Sequence[Mapping[str, str]], best_by_cap: Mapping[int, float], *,
              glicko_start: Glicko2, tau: float, opponent_ratings: Mapping[str, float] | None = None,
              anchors: str = "configured", best_player_by_cap: Mapping[int, str] | None = None,
              calibration: Calibration | None = None, sequential: SequentialTest = SequentialTest(),
              shuffles: int = 200) -> list[dict[str, object]]:
    """One summary row per (cap, temperature), sorted by cap then temperature.

    ``rows`` are evaluation games as :func:`read_tables` reads them (or as dicts of text).

    ``opponent_ratings`` (by opponent name) replaces the ratings written in the game rows.
    ``best_player_by_cap`` names the strongest player in each cap's data; where that player
    was an evaluation opponent, the row also holds the direct test: the model's mean score
    against it over their games and over their colour-swapped pairs (games 2i and 2i + 1),
    each with a bootstrap interval and a verdict (transcends when the whole interval is above
    one half), the pairs' pentanomial counts and ``sequential``'s GSPRT on them. Where that
    player took part in ``calibration``, ``minus_best`` is the rating difference fitted on the
    calibration's games and the model's in one likelihood, and ``verdict`` is its interval's.
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
        # The paper's order for the order-dependent Glicko-2: its levels from the weakest up,
        # each opponent's games in the order played.
        group = group.sort_values(["opponent_rating", "opponent", "game"], kind="stable")
        scores = group["model_score"].tolist()
        pairs = list(zip(group["opponent_rating"].tolist(), scores))
        mle = elo_mle(pairs)
        glicko = glicko2_sequential(pairs, start=glicko_start, tau=tau)
        # The seed names the (cap, temperature): the intervals do not move between runs.
        seed = int(cap * 1e6 + round(temp * 1e4))
        shuffled = glicko2_shuffled(pairs, start=glicko_start, tau=tau, shuffles=shuffles, seed=seed)
        best = best_by_cap.get(cap, float("nan"))
        name = (best_player_by_cap or {}).get(cap, "")
        known = calibration.ratings.get(name) if calibration is not None else None
        difference = _minus_best(group, mle, best, name, calibration)
        low = difference["minus_best_ci_low"]
        out.append({
            "cap": cap, "temperature": temp,
            "rating": round(mle.rating, 1), "ci_low": round(mle.ci_low, 1), "ci_high": round(mle.ci_high, 1),
            "games": len(group), "wins": scores.count(1.0), "draws": scores.count(0.5),
            "losses": scores.count(0.0), "forfeits": int(group["forfeit"].sum()),
            "at_bound": int(mle.at_bound), "best_player": name, "best_in_data": best,
            "best_ci_low": known.ci_low if known else "", "best_ci_high": known.ci_high if known else "",
            "above_best": int(mle.ci_low > best), **difference,
            **_head_to_head(group.loc[group["opponent"] == name] if name else group.iloc[:0], seed, sequential),
            "glicko2_rating": round(glicko.rating, 1), "glicko2_rd": round(glicko.rd, 1),
            "glicko2_shuffled_median": round(shuffled[0], 1), "glicko2_shuffled_low": round(shuffled[1], 1),
            "glicko2_shuffled_high": round(shuffled[2], 1),
            "mean_illegal_tries": round(int(group["illegal_tries"].sum()) / len(group), 3),
            "mode": ";".join(sorted(set(group["mode"]))),
            "engine": ";".join(sorted(set(group["engine"]))),
            "anchors": anchors,
            "verdict": "unknown" if low == "" else verdict(float(low), float(difference["minus_best_ci_high"]), 0.0),
        })
    return out


def write_ratings(rows: Sequence[Mapping[str, object]], csv_out: str | Path, md_out: str | Path,
                  json_out: str | Path | None = None) -> None:
    """The table as CSV and Markdown, and (for ``dvc metrics``) the ratings as JSON."""
    if json_out is not None:
        metrics: dict[str, dict[str, dict[str, object]]] = {}
        for r in rows:
            metrics.setdefault(f"cap{r['cap']}", {})[f"T{r['temperature']}"] = {
                k: r[k] for k in ("rating", "ci_low", "ci_high", "games", "above_best", "minus_best",
                                  "minus_best_ci_low", "minus_best_ci_high", "verdict")}
        write_json(json_out, metrics)
    with atomic_text(csv_out) as fh:
        # Each value as Python prints it, CRLF line ends and an unknown best as "nan": the bytes
        # the csv module wrote before.
        pd.DataFrame(rows, columns=RATINGS_COLUMNS, dtype=object).to_csv(
            fh, index=False, lineterminator="\r\n", na_rep="nan")
    shown = ["cap", "temperature", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses",
             "forfeits", "best_player", "best_in_data", "minus_best", "minus_best_ci_low", "minus_best_ci_high",
             "verdict", "h2h_games", "h2h_score", "h2h_pentanomial", "h2h_pair_score", "h2h_pair_ci_low",
             "h2h_pair_ci_high", "gsprt_llr", "gsprt_decision", "glicko2_rating", "glicko2_shuffled_low",
             "glicko2_shuffled_high"]
    with atomic_text(md_out) as fh:
        fh.write("| " + " | ".join(shown) + " |\n")
        fh.write("|" + "---|" * len(shown) + "\n")
        for row in rows:
            fh.write("| " + " | ".join(str(row[c]) for c in shown) + " |\n")
        fh.write(INTERVALS)


# Which interval is which: written under the Markdown table (and said in README).
INTERVALS = """
Intervals, all 95%:
- `ci_low`-`ci_high`: likelihood-ratio interval of the maximum-likelihood Elo against the opponents' ratings held fixed.
- `minus_best_ci_*`: profile-likelihood interval of the model's rating minus the best player's, fitted jointly
  with the calibration's games (`minus_best_method` joint), or the model's interval minus the best player's
  rating taken as exact (point); `verdict` is this interval's: transcends when it lies above 0.
- `best_ci_*`: the calibration's Wald interval of the best player's rating.
- `h2h_ci_*` and `h2h_pair_ci_*`: percentile bootstrap (2,000 resamples) over the games against the best player,
  and over their colour-swapped pairs (games 2i and 2i + 1); `h2h_pentanomial` counts pairs scoring 0, 1/2, 1,
  3/2 and 2 points; `gsprt_*` is the GSPRT on those pairs (`gsprt_decision` H1, H0 or continue).
- `glicko2_rating`: the paper's sequential Glicko-2 with the games in its order (opponents from the weakest up);
  `glicko2_shuffled_*`: its median and 2.5%-97.5% range over seeded random orders of the same games.
"""

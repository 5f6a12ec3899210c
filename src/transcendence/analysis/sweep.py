"""A sweep's summary: each condition's three measures of transcendence, side by side.

One row per (condition, cap, temperature): the rating minus the best player's, the head to
head against that player, and the expected reward minus the best player's (with the ideal
learner's beside it where the reward analysis reports it), each with its interval and
verdict; and a figure of the three margins against the share of shared mistakes.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..files import atomic_text, read_json
from ..players.mistakes import MistakeRule

SUMMARY_COLUMNS = [
    "condition", "seed", "share", "shared_rule", "cap", "temperature", "best_player", "best_rating",
    "rating", "rating_ci_low", "rating_ci_high", "rating_minus_best", "rating_minus_best_ci_low",
    "rating_minus_best_ci_high", "rating_verdict", "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict",
    "reward_minus_best", "reward_minus_best_ci_low", "reward_minus_best_ci_high", "reward_verdict",
    "ideal_reward_minus_best", "ideal_reward_minus_best_ci_low", "ideal_reward_minus_best_ci_high",
    "ideal_majority_engine", "ideal_majority_shared", "model_top_shared_where_majority_shared",
]
# The shared-mistake rule whose mistakes a learner cannot predict from the board: drawn apart
# from the learnable rule's line in the figure.
UNPREDICTABLE_RULE = "position_hash"


def condition_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """A condition's seed, share of shared mistakes and shared-mistake rule, from its config
    (parsed by the players' own :class:`~transcendence.players.mistakes.MistakeRule`)."""
    rule = MistakeRule.from_config(config.get("synthetic", {}).get("mistakes"), int(config["seed"]))
    return {"seed": int(config["seed"]), "share": rule.share, "shared_rule": rule.shared}


def _number(value: object) -> float | None:
    """A CSV or JSON field as a float; None where it is empty or not a number."""
    if value is None or value == "":
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _by_temperature(rows: Iterable[Mapping[str, Any]]) -> dict[float, Mapping[str, Any]]:
    return {round(float(r["temperature"]), 9): r for r in rows}


def summary_rows(condition: str, settings: Mapping[str, Any], ratings: Sequence[Mapping[str, Any]],
                 rewards: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The summary's rows of one condition.

    ``ratings`` are the rows of its ratings.csv; ``rewards`` its expected-reward results by
    cap (the caps of its ``reward.caps``; a cap without one leaves the reward columns empty,
    as does a result without the ideal learner's ``ideal`` section). The rating margin's
    interval is the model's rating interval minus the best player's point rating.
    """
    out = []
    for r in ratings:
        cap, temperature = int(r["cap"]), float(r["temperature"])
        best = _number(r.get("best_in_data"))
        rating, low, high = (_number(r.get(k)) for k in ("rating", "ci_low", "ci_high"))

        def minus_best(x: float | None) -> float | None:
            return None if x is None or best is None else round(x - best, 4)  # no float noise in the table

        row: dict[str, Any] = {
            "condition": condition, **{k: settings[k] for k in ("seed", "share", "shared_rule")},
            "cap": cap, "temperature": temperature, "best_player": r.get("best_player", ""),
            "best_rating": best, "rating": rating, "rating_ci_low": low, "rating_ci_high": high,
            "rating_minus_best": minus_best(rating), "rating_minus_best_ci_low": minus_best(low),
            "rating_minus_best_ci_high": minus_best(high), "rating_verdict": r.get("verdict", ""),
            **{k: _number(r.get(k)) for k in ("h2h_score", "h2h_ci_low", "h2h_ci_high")},
            "h2h_verdict": r.get("h2h_verdict", ""),
        }
        reward = rewards.get(cap, {})
        model = _by_temperature(reward.get("rows", [])).get(round(temperature, 9), {})
        ideal_section = reward.get("ideal") or {}
        ideal = _by_temperature(ideal_section.get("rows", [])).get(round(temperature, 9), {})
        for prefix, source in (("reward", model), ("ideal_reward", ideal)):
            interval = source.get("minus_best_ci") or [None, None]
            row[f"{prefix}_minus_best"] = _number(source.get("minus_best"))
            row[f"{prefix}_minus_best_ci_low"] = _number(interval[0])
            row[f"{prefix}_minus_best_ci_high"] = _number(interval[1])
        row["reward_verdict"] = model.get("verdict", "")
        row["ideal_majority_engine"] = _number(ideal_section.get("majority_engine"))
        row["ideal_majority_shared"] = _number(ideal_section.get("majority_shared"))
        row["model_top_shared_where_majority_shared"] = _number(
            ideal_section.get("model_top_shared_where_majority_shared"))
        out.append(row)
    return out


def read_condition(condition: str, settings: Mapping[str, Any], ratings_csv: str | Path,
                   reward_jsons: Iterable[str | Path]) -> list[dict[str, Any]]:
    """:func:`summary_rows` of one condition's files (reward files named ``cap<R>.json``)."""
    with open(ratings_csv, newline="", encoding="utf-8") as fh:
        ratings = list(csv.DictReader(fh))
    rewards = {int(Path(p).stem.removeprefix("cap")): read_json(p) for p in reward_jsons}
    return summary_rows(condition, settings, ratings, rewards)


def write_summary(rows: Sequence[Mapping[str, Any]], csv_out: str | Path) -> None:
    """The summary as CSV, an empty field where a measure is missing."""
    with atomic_text(csv_out) as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in SUMMARY_COLUMNS})


# The figure's three panels: (column, its interval's columns, what it is, its zero).
_PANELS = [
    ("rating_minus_best", "rating_minus_best_ci", "rating minus the best player's (Elo)", 0.0),
    ("h2h_score", "h2h_ci", "head to head against the best player, minus 50%", 0.5),
    ("reward_minus_best", "reward_minus_best_ci", "expected reward minus the best player's (pp)", 0.0),
]


def summary_figure(rows: Sequence[Mapping[str, Any]], outputs: Sequence[str | Path], *, title: str = "") -> None:
    """For each cap (a row of panels): the three margins against the share, one line per temperature.

    Conditions with the unpredictable shared rule are separate, labelled markers; the reward
    panel draws the ideal learner's margin (with its interval) as a dashed line.
    """
    # matplotlib only here: the Snakefile imports this module for condition_settings at start-up.
    from .figures import plt, save_figure

    caps = sorted({int(r["cap"]) for r in rows})
    temperatures = sorted({float(r["temperature"]) for r in rows})
    colors = {t: plt.cm.viridis(i / max(1, len(temperatures) - 1)) for i, t in enumerate(temperatures)}
    fig, axes = plt.subplots(len(caps), 3, figsize=(13, 3.6 * len(caps)), squeeze=False)
    for axes_row, cap in zip(axes, caps):
        for ax, (column, interval, label, zero) in zip(axes_row, _PANELS):
            for t in temperatures:
                here = [r for r in rows if int(r["cap"]) == cap and float(r["temperature"]) == t]
                learnable = [r for r in here if r["shared_rule"] != UNPREDICTABLE_RULE]
                _draw(ax, learnable, column, interval, zero, colors[t], f"T = {t:g}", "o-")
                _draw(ax, [r for r in here if r["shared_rule"] == UNPREDICTABLE_RULE], column, interval, zero,
                      colors[t], f"T = {t:g}, {UNPREDICTABLE_RULE} rule", "D")
                if column == "reward_minus_best":
                    _draw(ax, learnable, "ideal_reward_minus_best", "ideal_reward_minus_best_ci", zero,
                          colors[t], f"T = {t:g}, ideal learner", "--", band=True)
            ax.axhline(0, ls="--", color="black", lw=0.8)
            ax.set_xlim(-0.05, 1.05)  # the share's whole range, so every cap's panels align
            ax.set_title(f"cap {cap}: {label}", fontsize=9)
            ax.set_xlabel("share of shared mistakes p")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
            else:
                ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="gray")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, outputs)


def _draw(ax, rows: Sequence[Mapping[str, Any]], column: str, interval: str, zero: float, color, label: str,
          style: str, band: bool = False) -> None:
    """One series of a panel, minus ``zero``, with error bars (or a band), sorted by share.

    ``interval`` names the interval's columns, ``<interval>_low`` and ``<interval>_high``; a
    point without them has no bar.
    """
    points = sorted(((float(r["share"]), r[column], r.get(f"{interval}_low"), r.get(f"{interval}_high"))
                     for r in rows if r.get(column) is not None), key=lambda p: p[0])
    if not points:
        return
    x, y = [p[0] for p in points], [p[1] - zero for p in points]
    lows = [p[2] - zero if p[2] is not None else p[1] - zero for p in points]
    highs = [p[3] - zero if p[3] is not None else p[1] - zero for p in points]
    if band:
        ax.plot(x, y, style, color=color, lw=1, label=label)
        ax.fill_between(x, lows, highs, color=color, alpha=0.12)
    else:
        errors = [[a - b for a, b in zip(y, lows)], [b - a for a, b in zip(y, highs)]]
        ax.errorbar(x, y, yerr=errors, fmt=style, color=color, ms=4, capsize=2, lw=1, label=label)

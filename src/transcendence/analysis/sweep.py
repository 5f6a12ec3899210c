"""A sweep's summary: each condition's three measures of transcendence, side by side.

One row per (condition, cap, temperature): the rating minus the best player's, the head to
head against that player, and the expected reward minus the best player's (with the ideal
learner's beside it where the reward analysis reports it), each with its interval and
verdict. Two kinds of sweep (:func:`write_sweep_summary` dispatches on the kind):

- ``conditions`` (the diversity sweep): rows of kind ``condition``, and a figure of the three
  margins against the share of shared mistakes;
- ``replicates`` (conditions that differ in ``seed`` alone, config/seeds.yaml): rows of kind
  ``seed``, then one row of kind ``across`` (condition ``all``) per (cap, temperature) with each
  margin's mean, sample SD, minimum and maximum over the seeds and "transcends in k of n";
  and a figure of every seed's margins with the across-seed means.
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..files import atomic_text, read_json
from ..players.mistakes import MistakeRule

# The kinds of sweep (sweep_conditions.sweep_kind tells them apart) and of summary rows.
CONDITIONS_KIND, REPLICATES = "conditions", "replicates"
ROW_KINDS = {CONDITIONS_KIND: "condition", REPLICATES: "seed"}
ACROSS = "across"

# The three measures: (name, the margin's column, its verdict's column). The head to head's
# margin is its score (against 0.5).
MEASURES = [("rating", "rating_minus_best", "rating_verdict"), ("h2h", "h2h_score", "h2h_verdict"),
            ("reward", "reward_minus_best", "reward_verdict")]
# An across row's columns: per measure the margin's mean, sample SD, min and max over the
# seeds, and k (verdict `transcends`) of n (seeds with the measure).
ACROSS_COLUMNS = [name for measure, column, _ in MEASURES
                  for name in (f"{column}_mean", f"{column}_sd", f"{column}_min", f"{column}_max",
                               f"{measure}_transcends_k", f"{measure}_n")]

SUMMARY_COLUMNS = [
    "kind", "condition", "seed", "share", "shared_rule", "cap", "temperature", "best_player", "best_rating",
    "rating", "rating_ci_low", "rating_ci_high", "rating_minus_best", "rating_minus_best_ci_low",
    "rating_minus_best_ci_high", "rating_verdict", "h2h_score", "h2h_ci_low", "h2h_ci_high", "h2h_verdict",
    "reward_minus_best", "reward_minus_best_ci_low", "reward_minus_best_ci_high", "reward_verdict",
    "ideal_reward_minus_best", "ideal_reward_minus_best_ci_low", "ideal_reward_minus_best_ci_high",
    "ideal_majority_engine", "ideal_majority_shared", "model_top_shared_where_majority_shared",
    # Where the rating margin and the head to head come from (summary_rows), then the across rows'.
    "rating_minus_best_from", "h2h_from", "h2h_count", *ACROSS_COLUMNS,
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
                 rewards: Mapping[int, Mapping[str, Any]], *, kind: str = "condition") -> list[dict[str, Any]]:
    """The summary's rows of one condition (of kind ``kind``).

    ``ratings`` are the rows of its ratings.csv; ``rewards`` its expected-reward results by
    cap (the caps of its ``reward.caps``; a cap without one leaves the reward columns empty,
    as does a result without the ideal learner's ``ideal`` section).

    The rating margin is the row's ``minus_best`` and its profile-likelihood interval (model
    and best player in one likelihood; ``rating_minus_best_from`` ``joint``).
    Older tables, without ``minus_best``: the model's interval minus the best player's point rating (``model_ci``).
    The head to head is the score over colour-swapped pairs where the row has ``h2h_pair_score``
    (its interval, ``h2h_pairs``, its verdict from that interval; ``h2h_from`` ``pairs``), else
    the score over games (``games``); ``h2h_count`` counts the pairs or games.
    """
    from ..rating.table import verdict  # pandas: only when rows are made, not at start-up

    out = []
    for r in ratings:
        cap, temperature = int(r["cap"]), float(r["temperature"])
        best = _number(r.get("best_in_data"))
        rating, low, high = (_number(r.get(k)) for k in ("rating", "ci_low", "ci_high"))

        def minus_best(x: float | None) -> float | None:
            return None if x is None or best is None else round(x - best, 4)  # no float noise in the table

        joint = _number(r.get("minus_best"))
        if joint is not None:
            margin = (joint, _number(r.get("minus_best_ci_low")), _number(r.get("minus_best_ci_high")))
            margin_from = "joint"
        else:
            margin = (minus_best(rating), minus_best(low), minus_best(high))
            margin_from = "model_ci" if margin[0] is not None else ""
        pair = _number(r.get("h2h_pair_score"))
        if pair is not None:
            h2h = (pair, _number(r.get("h2h_pair_ci_low")), _number(r.get("h2h_pair_ci_high")))
            h2h_from, h2h_count = "pairs", _number(r.get("h2h_pairs"))
            h2h_verdict = verdict(h2h[1], h2h[2], 0.5) if None not in h2h[1:] else ""
        else:
            h2h = tuple(_number(r.get(k)) for k in ("h2h_score", "h2h_ci_low", "h2h_ci_high"))
            h2h_from = "games" if h2h[0] is not None else ""
            h2h_count, h2h_verdict = _number(r.get("h2h_games")), r.get("h2h_verdict", "")

        row: dict[str, Any] = {
            **dict.fromkeys(ACROSS_COLUMNS), "kind": kind, "condition": condition,
            **{k: settings[k] for k in ("seed", "share", "shared_rule")},
            "cap": cap, "temperature": temperature, "best_player": r.get("best_player", ""),
            "best_rating": best, "rating": rating, "rating_ci_low": low, "rating_ci_high": high,
            "rating_minus_best": margin[0], "rating_minus_best_ci_low": margin[1],
            "rating_minus_best_ci_high": margin[2], "rating_verdict": r.get("verdict", ""),
            "rating_minus_best_from": margin_from,
            "h2h_score": h2h[0], "h2h_ci_low": h2h[1], "h2h_ci_high": h2h[2], "h2h_verdict": h2h_verdict,
            "h2h_from": h2h_from, "h2h_count": None if h2h_count is None else int(h2h_count),
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


def _common(rows: Sequence[Mapping[str, Any]], key: str) -> Any:
    """The value every row has for ``key``; None where they differ."""
    values = {row.get(key) for row in rows}
    return values.pop() if len(values) == 1 else None


def across_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A replicate sweep's across-seed rows: one per (cap, temperature) of the seeds' ``rows``.

    For each measure (:data:`MEASURES`), over the seeds where it was measured: the margin's
    mean, sample SD (n - 1; empty for one seed), min and max, rounded to 4 decimals, and
    ``<measure>_transcends_k`` of ``<measure>_n`` (seeds whose verdict is ``transcends``);
    all empty where no seed has the measure. Share, rule and best player are filled where every
    seed has the same; the per-seed columns are left empty.
    """
    groups: dict[tuple[int, float], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((int(row["cap"]), float(row["temperature"])), []).append(row)
    out = []
    for (cap, temperature), group in sorted(groups.items()):
        across: dict[str, Any] = {**dict.fromkeys(SUMMARY_COLUMNS), "kind": ACROSS, "condition": "all",
                                  "cap": cap, "temperature": temperature,
                                  **{k: _common(group, k) for k in ("share", "shared_rule", "best_player")}}
        for measure, column, verdict_column in MEASURES:
            measured = [r for r in group if r.get(column) is not None]
            values = [float(r[column]) for r in measured]
            if not values:
                continue
            across[f"{column}_mean"] = round(statistics.fmean(values), 4)
            across[f"{column}_sd"] = round(statistics.stdev(values), 4) if len(values) > 1 else None
            across[f"{column}_min"], across[f"{column}_max"] = min(values), max(values)
            across[f"{measure}_transcends_k"] = sum(r.get(verdict_column) == "transcends" for r in measured)
            across[f"{measure}_n"] = len(values)
        out.append(across)
    return out


def write_sweep_summary(kind: str, rows: Sequence[Mapping[str, Any]], csv_out: str | Path,
                        figure_outputs: Sequence[str | Path], *, sweep: str = "") -> list[dict[str, Any]]:
    """A sweep's summary table and figure, by the sweep's kind; returns the table's rows.

    ``rows`` are every condition's :func:`summary_rows`. A ``replicates`` sweep's rows become
    kind ``seed``, its across-seed rows (:func:`across_rows`) follow them, and its figure is
    :func:`replicate_figure`; a ``conditions`` sweep's is :func:`summary_figure`.
    """
    if kind == REPLICATES:
        table = [{**row, "kind": ROW_KINDS[REPLICATES]} for row in rows]
        table += across_rows(table)
        write_summary(table, csv_out)
        seeds = len({row["condition"] for row in rows})
        replicate_figure(table, figure_outputs,
                         title=f"Sweep {sweep}: margins over the best player in the data, {seeds} seeds")
    elif kind == CONDITIONS_KIND:
        table = [dict(row) for row in rows]
        write_summary(table, csv_out)
        summary_figure(table, figure_outputs, title=f"Sweep {sweep}: margins over the best player in the data")
    else:
        raise ValueError(f"unknown kind of sweep {kind!r}: {CONDITIONS_KIND!r} or {REPLICATES!r}")
    return table


def write_summary(rows: Sequence[Mapping[str, Any]], csv_out: str | Path) -> None:
    """The summary as CSV, an empty field where a measure is missing."""
    with atomic_text(csv_out) as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in SUMMARY_COLUMNS})


# The figure's three panels: (column, its interval's columns, what it is, its zero), in the
# order of MEASURES.
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
    # matplotlib only inside (_grid): the Snakefile imports this module for condition_settings at start-up.
    caps, temperatures, colors, fig, axes = _grid(rows)
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
            ax.set_xlim(-0.05, 1.05)  # the share's whole range, so every cap's panels align
            _finish_panel(ax, f"cap {cap}: {label}", "share of shared mistakes p")
    _finish_figure(fig, outputs, title)


def _grid(rows: Sequence[Mapping[str, Any]]):
    """A figure's caps (one row of three panels each), temperatures and their colours, figure and axes."""
    from .figures import plt

    caps = sorted({int(r["cap"]) for r in rows})
    temperatures = sorted({float(r["temperature"]) for r in rows})
    colors = {t: plt.cm.viridis(i / max(1, len(temperatures) - 1)) for i, t in enumerate(temperatures)}
    fig, axes = plt.subplots(len(caps), 3, figsize=(13, 3.6 * len(caps)), squeeze=False)
    return caps, temperatures, colors, fig, axes


def _finish_panel(ax, title: str, xlabel: str) -> None:
    """A panel's zero line, title, axis label and legend (or "not measured" where it has no series)."""
    ax.axhline(0, ls="--", color="black", lw=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)
    else:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="gray")


def _finish_figure(fig, outputs: Sequence[str | Path], title: str) -> None:
    from .figures import save_figure

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


# How a replicate figure's legend writes each panel's across-seed mean (minus the panel's zero).
_MEAN_FORMATS = {"rating_minus_best": "{:+.0f} Elo", "h2h_score": "{:+.3f}", "reward_minus_best": "{:+.2f} pp"}


def replicate_figure(rows: Sequence[Mapping[str, Any]], outputs: Sequence[str | Path], *, title: str = "") -> None:
    """A replicate sweep's figure: for each cap (a row of panels), one panel per measure.

    x is the seed (one position per condition, in the sweep's order); each temperature has its
    colour, its seeds' margins as points with their 95% intervals (side by side, offset a little)
    and its across-seed mean as a horizontal line, the legend giving the mean and "transcends
    in k of n"; the dashed black line is 0. ``rows`` are :func:`write_sweep_summary`'s
    (kinds ``seed`` and ``across``).
    """
    seeds = [r for r in rows if r["kind"] != ACROSS]
    across = {(int(r["cap"]), float(r["temperature"])): r for r in rows if r["kind"] == ACROSS}
    conditions = list(dict.fromkeys(r["condition"] for r in seeds))
    position = {c: i for i, c in enumerate(conditions)}
    seed_of = {r["condition"]: r["seed"] for r in seeds}
    caps, temperatures, colors, fig, axes = _grid(seeds)
    width = 0.5 / max(1, len(temperatures))  # the temperatures' offsets within one seed's slot
    for axes_row, cap in zip(axes, caps):
        for ax, (column, interval, label, zero), (measure, _, _) in zip(axes_row, _PANELS, MEASURES):
            for j, t in enumerate(temperatures):
                here = [r for r in seeds if int(r["cap"]) == cap and float(r["temperature"]) == t
                        and r.get(column) is not None]
                if not here:
                    continue
                offset = (j - (len(temperatures) - 1) / 2) * width
                x = [position[r["condition"]] + offset for r in here]
                y = [r[column] - zero for r in here]
                lows = [(r.get(f"{interval}_low") if r.get(f"{interval}_low") is not None else r[column]) - zero
                        for r in here]
                highs = [(r.get(f"{interval}_high") if r.get(f"{interval}_high") is not None else r[column]) - zero
                         for r in here]
                summary = across.get((cap, t), {})
                mean = summary.get(f"{column}_mean")
                text = f"T = {t:g}"
                if mean is not None:
                    text += (f": mean {_MEAN_FORMATS[column].format(mean - zero)}, transcends in "
                             f"{summary[f'{measure}_transcends_k']} of {summary[f'{measure}_n']}")
                    ax.axhline(mean - zero, color=colors[t], lw=1.2, alpha=0.8)
                errors = [[a - b for a, b in zip(y, lows)], [b - a for a, b in zip(y, highs)]]
                ax.errorbar(x, y, yerr=errors, fmt="o", color=colors[t], ms=4, capsize=2, lw=1, label=text)
            ax.set_xticks(range(len(conditions)), [str(seed_of[c]) for c in conditions], rotation=30, fontsize=7)
            ax.set_xlim(-0.5, len(conditions) - 0.5)
            _finish_panel(ax, f"cap {cap}: {label}", "seed")
    _finish_figure(fig, outputs, title)

"""The paper's Figure 1: rating against sampling temperature, one panel per cap."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..files import atomic_path  # noqa: E402


# Metadata that would make two drawings of the same figure differ (DVC hashes the files):
# matplotlib stamps a PDF with its creation date and an SVG with a date; None leaves it out.
_NO_DATE = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def save_figure(fig, outputs: Sequence[str | Path]) -> None:
    """Write the figure to each output (format from the suffix), atomically, and close it.

    No creation date is written, so the same figure is the same bytes on every run.
    """
    for out in outputs:
        kind = Path(out).suffix.lstrip(".")
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=kind, dpi=150, metadata=_NO_DATE.get(kind))
    plt.close(fig)


def figure1(ratings_csv: str | Path, outputs: Sequence[str | Path], *, title: str = "",
            reference: Mapping[int, Mapping[float, float]] | None = None) -> None:
    """Draw rating (with its interval band) against temperature on a log axis.

    The best player in the cap's data is a dotted line, with its calibrated interval as a band
    where the calibration measured it; the rating cap is drawn only where the ratings are on
    the scale it filters (configured anchors), labelled as the filter's threshold; optional
    ``reference`` points (the paper's published ratings) are drawn as markers.
    """
    ratings = pd.read_csv(ratings_csv)
    if ratings.empty:
        raise ValueError(f"{ratings_csv} has no rows to plot")
    caps = ratings.groupby("cap")
    fig, axes = plt.subplots(1, caps.ngroups, figsize=(4.2 * caps.ngroups, 3.8), sharey=True, squeeze=False)
    for ax, (cap, rows) in zip(axes[0], caps):
        rows = rows.sort_values("temperature", kind="stable")
        t = rows["temperature"].tolist()
        ax.fill_between(t, rows["ci_low"].tolist(), rows["ci_high"].tolist(),
                        alpha=0.25, color="tab:blue", label="model, 95% LR interval")
        ax.plot(t, rows["rating"].tolist(), "o-", color="tab:blue", label="model (ML Elo)")
        # Calibrated ratings are measured from the random mover up, not on the players'
        # configured scale the cap filters, so there the cap would be a line at a wrong height.
        if set(rows["anchors"]) != {"calibrated"}:
            ax.axhline(cap, ls="--", color="black", lw=1, label="rating cap (the filter's threshold)")
        best = float(rows["best_in_data"].iloc[0])
        if best == best:
            ax.axhline(best, ls=":", color="tab:red", lw=1, label="best player in data")
            low, high = (pd.to_numeric(rows[k], errors="coerce").iloc[0] for k in ("best_ci_low", "best_ci_high"))
            if low == low and high == high:
                ax.axhspan(low, high, color="tab:red", alpha=0.1, lw=0, label="best player, 95% interval")
        if reference and cap in reference:
            pts = sorted(reference[cap].items())
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "x", color="gray", label="paper")
        ax.set_xscale("log")
        ax.set_xlabel("temperature")
        ax.set_title(f"cap {cap}")
        ax.grid(alpha=0.3)
        tested = rows.dropna(subset=["minus_best"])
        if len(tested):  # the test, in words: the difference from the best player, and the pairs' score
            lines = []
            for r in (tested.iloc[0], tested.iloc[-1]):
                line = (f"T={r['temperature']:g}: {r['minus_best']:+.0f} [{r['minus_best_ci_low']:+.0f}, "
                        f"{r['minus_best_ci_high']:+.0f}] Elo vs {r['best_player'] or 'best'}")
                if r["h2h_pair_score"] == r["h2h_pair_score"]:
                    line += (f"; pairs {100 * r['h2h_pair_score']:.0f}% [{100 * r['h2h_pair_ci_low']:.0f}, "
                             f"{100 * r['h2h_pair_ci_high']:.0f}]")
                lines.append(line)
            ax.text(0.03, 0.03, "\n".join(dict.fromkeys(lines)), transform=ax.transAxes, fontsize=6.5,
                    va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    axes[0][0].set_ylabel("rating")
    handles, labels = {}, {}
    for ax in axes[0]:  # one legend below the panels, never over the data
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
            labels.setdefault(lab, lab)
    fig.legend(list(handles.values()), list(labels.values()), loc="lower center",
               ncol=min(len(handles), 3), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    save_figure(fig, outputs)


def diagnostics(rows: pd.DataFrame | Sequence[Mapping[str, str]], outputs: Sequence[str | Path]) -> None:
    """Forfeits, illegal tries and game lengths per cap: what explains the ratings.

    ``rows`` are the per-game rows of the evaluation tables (:func:`transcendence.rating.table.read_tables`).
    """
    games = pd.DataFrame(rows)
    if games.empty:
        raise ValueError("no evaluation games to summarise")
    games = games.astype({"cap": int, "temperature": float, "forfeit": int, "illegal_tries": int, "plies": int})
    fig, (ax_f, ax_i, ax_l) = plt.subplots(1, 3, figsize=(13, 3.8))
    for cap, mine in games.groupby("cap"):
        rates = mine.groupby("temperature")[["forfeit", "illegal_tries"]].mean()
        temps = rates.index.tolist()
        ax_f.plot(temps, rates["forfeit"].tolist(), "o-", label=f"cap {cap}")
        ax_i.plot(temps, rates["illegal_tries"].tolist(), "o-", label=f"cap {cap}")
        ax_l.hist(mine["plies"].tolist(), bins=30, histtype="step", label=f"cap {cap}")
    for ax, ylabel in ((ax_f, "share of games forfeited"), (ax_i, "illegal tries per game")):
        ax.set_xscale("log")
        ax.set_xlabel("temperature")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)  # rates: zero (as in legal_moves mode) sits on the axis
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8)
    ax_l.set_xlabel("game length (plies)")
    ax_l.set_title("a spike at the end: games stopped at the move limit", fontsize=8)
    ax_l.set_ylabel("games")
    ax_l.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, outputs)

"""The paper's favor analysis (its Table 1): what low temperature gains, and where.

In each position where the model moved in its games (against the weakest opponent at the
lowest temperature), the model's move is sampled many times at each temperature; each
sample is rewarded with Stockfish's win probability of that move for the mover (0 when it
is not a legal move). The *favor* of temperature T over T = 1 is the mean reward
difference. Its 95% interval comes from a bootstrap over positions (the samples of one
position are not independent, the positions nearly are). The paper finds the gain small on
average and concentrated in few positions (a right-skewed histogram of per-position
favor): the majority vote matters where the players disagree.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import chess
import numpy as np
import torch

from ..engine.move_values import analyse_positions
from ..files import atomic_text, write_json
from ..families import family_of, load_model
from ..seeds import game_seed
from .figures import save_figure, plt
from .game_positions import model_positions, pick_positions

TOP_K = (1, 3, 5)
BASELINE = 1.0


def bootstrap_interval(per_position: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of the mean of ``per_position`` over resampled positions."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per_position), size=(resamples, len(per_position)))
    means = per_position[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def favor_stats(rewards: Mapping[float, np.ndarray], ranks: Mapping[float, np.ndarray], *,
                resamples: int, seed: int) -> dict[str, object]:
    """Per temperature: mean reward, favor over T = 1 (both in percentage points, with
    bootstrap intervals), share of samples in Stockfish's top 1/3/5 and of illegal samples.

    ``rewards[T]`` and ``ranks[T]`` are (positions, samples) arrays; rank 0 marks a sample
    that is no legal move (its reward is 0).
    """
    if BASELINE not in rewards:
        raise ValueError(f"favor is measured against T = {BASELINE}, which is not among {sorted(rewards)}")
    base = rewards[BASELINE].mean(axis=1)
    rows = []
    for t in sorted(rewards):
        r, k = rewards[t], ranks[t]
        per_position = r.mean(axis=1)
        diff = per_position - base
        gain = np.clip(diff, 0, None)
        top_decile = np.sort(diff)[::-1][: max(1, math.ceil(len(diff) / 10))]
        rows.append({
            "temperature": t,
            "mean_reward": 100 * float(per_position.mean()),
            "mean_reward_ci": [100 * v for v in bootstrap_interval(per_position, resamples, seed)],
            "favor": 100 * float(diff.mean()),
            "favor_ci": [100 * v for v in bootstrap_interval(diff, resamples, seed)],
            **{f"top{n}": 100 * float(((k >= 1) & (k <= n)).mean()) for n in TOP_K},
            "illegal": 100 * float((k == 0).mean()),
            "positions_gaining": 100 * float((diff > 0).mean()),
            "positions_losing": 100 * float((diff < 0).mean()),
            # Share of the summed gains that the best tenth of the positions holds.
            "top_decile_share_of_gain": (100 * float(np.clip(top_decile, 0, None).sum() / gain.sum())
                                         if gain.sum() > 0 else None),
            "per_position_favor": [100 * float(d) for d in diff],
        })
    return {"positions": int(len(base)), "samples": int(rewards[BASELINE].shape[1]), "rows": rows}


def _fmt(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def favor_table(stats: Mapping[str, object], reference: Mapping[float, Mapping[str, float]] | None,
                title: str) -> str:
    """The paper's Table 1 layout (one row per temperature), published numbers beside ours."""
    ref = {float(t): v for t, v in (reference or {}).items()}
    cols = ["favor (pp)", "mean reward (%)", "top-1 (%)", "top-3 (%)", "top-5 (%)"]
    keys = ["favor", "reward", "top1", "top3", "top5"]
    head = ["temperature"]
    for c in cols:
        head += [c] + (["paper"] if ref else [])
    lines = [f"# {title}", "",
             f"{stats['positions']} positions x {stats['samples']} samples per temperature; "
             "95% bootstrap intervals over positions in brackets; illegal samples score 0.", "",
             "| " + " | ".join(head + ["illegal (%)"]) + " |",
             "|" + "---|" * (len(head) + 1)]
    for row in stats["rows"]:
        t = row["temperature"]
        ours = [
            f"{_fmt(row['favor'], sign=True)} [{_fmt(row['favor_ci'][0], sign=True)}, {_fmt(row['favor_ci'][1], sign=True)}]"
            if t != BASELINE else "0 (baseline)",
            f"{_fmt(row['mean_reward'])} [{_fmt(row['mean_reward_ci'][0])}, {_fmt(row['mean_reward_ci'][1])}]",
            _fmt(row["top1"], 1), _fmt(row["top3"], 1), _fmt(row["top5"], 1),
        ]
        cells = [f"{t:g}"]
        for value, key in zip(ours, keys):
            cells.append(value)
            if ref:
                published = ref.get(t, {}).get(key)
                cells.append(_fmt(published, 2 if key in ("favor", "reward") else 1, sign=key == "favor"))
        lines.append("| " + " | ".join(cells + [_fmt(row["illegal"], 1)]) + " |")
    return "\n".join(lines) + "\n"


def favor_figure(stats: Mapping[str, object], outputs: Sequence[str | Path], *, title: str,
                 reference: Mapping[float, Mapping[str, float]] | None = None) -> None:
    """Per-position favor histograms, mean reward and top-k shares per temperature."""
    ref = {float(t): v for t, v in (reference or {}).items()}
    rows = stats["rows"]
    temps = [r["temperature"] for r in rows]
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(rows)))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    lowered = [(r, c) for r, c in zip(rows, colors) if r["temperature"] != BASELINE]
    values = np.concatenate([r["per_position_favor"] for r, _ in lowered]) if lowered else np.zeros(1)
    bins = np.linspace(min(values.min(), -1), max(values.max(), 1), 31)
    for r, c in lowered:
        ax.hist(r["per_position_favor"], bins=bins, alpha=0.55, color=c, label=f"T={r['temperature']:g}")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("favor over T=1 per position (percentage points)")
    ax.set_ylabel("positions")
    ax.legend(fontsize=8)
    ax.set_title("where the gain is")
    ax = axes[1]
    x = np.arange(len(rows))
    mean = np.array([r["mean_reward"] for r in rows])
    ci = np.array([r["mean_reward_ci"] for r in rows])
    ax.errorbar(x, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], fmt="o-", capsize=4, label="this run")
    if ref:
        ax.plot(x, [ref.get(t, {}).get("reward", np.nan) for t in temps], "k*", ms=10, label="paper")
    ax.set_xticks(x, [f"{t:g}" for t in temps])
    ax.set_xlabel("temperature")
    ax.set_ylabel("mean reward (% win probability)")
    ax.legend(fontsize=8)
    ax.set_title("mean reward")
    ax = axes[2]
    width = 0.8 / len(TOP_K)
    for j, n in enumerate(TOP_K):
        pos = x + (j - (len(TOP_K) - 1) / 2) * width
        ax.bar(pos, [r[f"top{n}"] for r in rows], width, label=f"top-{n}", color=plt.cm.Blues(0.4 + 0.2 * j))
        if ref:
            ax.plot(pos, [ref.get(t, {}).get(f"top{n}", np.nan) for t in temps], "k*", ms=8,
                    label="paper" if j == 0 else None)
    ax.set_xticks(x, [f"{t:g}" for t in temps])
    ax.set_xlabel("temperature")
    ax.set_ylabel("% of samples in Stockfish's top k")
    ax.legend(fontsize=8)
    ax.set_title("agreement with Stockfish")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, outputs)


def run_favor(model_path: str | Path, games_pgn: str | Path, json_out: str | Path, md_out: str | Path,
              figures: Sequence[str | Path], *, cap: int, temperatures: Sequence[float], samples: int,
              positions: int | None, limit: Mapping[str, float], resamples: int, seed: int, mode: str,
              engine_path: str, cache_dir: str | Path, threads: int = 1, device: str = "cpu",
              reference: Mapping[float, Mapping[str, float]] | None = None,
              log: TextIO = sys.stderr) -> dict[str, object]:
    """Sample, value, summarise and draw the favor analysis of one cap's model."""
    from ..model.device import pick_device

    started = time.monotonic()
    # The threads run the engine pool; a tiny model on a busy CPU is faster on one thread.
    torch.set_num_threads(1)
    model = load_model(model_path, pick_device(device))
    family = family_of(model)
    chosen = pick_positions(model_positions(games_pgn, family.context_length(model)), positions,
                            game_seed(seed, "analysis positions", cap))
    if not chosen:
        raise ValueError(f"{games_pgn}: no position was put to the model")
    temps = sorted(float(t) for t in temperatures)
    values = analyse_positions([p.fen for p in chosen], engine_path=engine_path, limit=limit,
                               cache_dir=cache_dir, workers=threads, log=log)
    searched = time.monotonic()
    rewards = {t: np.zeros((len(chosen), samples)) for t in temps}
    ranks = {t: np.zeros((len(chosen), samples), dtype=int) for t in temps}
    for i, (pos, value) in enumerate(zip(chosen, values)):
        sampler = family.position_sampler(model, chess.Board(pos.fen), list(pos.sans), mode)
        for t in temps:
            gen = torch.Generator().manual_seed(game_seed(seed, "favor", cap, pos.game, pos.ply, t))
            for j, move in enumerate(sampler.moves_at(t, samples, gen)):
                if move is not None:
                    rewards[t][i, j] = value.value(move.uci())
                    ranks[t][i, j] = value.rank(move.uci())
    stats = favor_stats(rewards, ranks, resamples=resamples, seed=game_seed(seed, "favor bootstrap", cap))
    stats.update({
        "cap": cap, "mode": mode, "games": str(games_pgn), "engine_limit": dict(limit),
        "bootstrap_resamples": resamples,
        "positions_detail": [{"game": p.game, "ply": p.ply, "fen": p.fen, "best_win_probability": v.best}
                             for p, v in zip(chosen, values)],
    })
    write_json(json_out, stats)  # no timings in it: DVC hashes it, and re-running the same work must not change it
    title = f"Favor analysis, cap {cap} ({mode} sampling)"
    with atomic_text(md_out) as fh:
        fh.write(favor_table(stats, reference, title))
    favor_figure(stats, figures, title=title, reference=reference)
    for row in stats["rows"]:
        print(f"[favor cap {cap}] T={row['temperature']:g}: reward {row['mean_reward']:.2f}%, "
              f"favor {row['favor']:+.2f} pp [{row['favor_ci'][0]:+.2f}, {row['favor_ci'][1]:+.2f}], top-1/3/5 "
              f"{row['top1']:.1f}/{row['top3']:.1f}/{row['top5']:.1f}%, illegal {row['illegal']:.1f}%",
              file=log, flush=True)
    print(f"[favor cap {cap}] {searched - started:.1f}s in the engine, {time.monotonic() - started:.1f}s in all",
          file=log, flush=True)
    return stats

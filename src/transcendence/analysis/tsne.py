"""t-SNE of the model's last hidden state over the positions it met, coloured by Stockfish.

The paper shows that the model's representation of a position reflects how good the
position is for the side to move: a 2-D t-SNE map of its last hidden state (after the
final layer norm, what the output head reads) at the point where it is about to write its
move, coloured by Stockfish's win probability, shows regions of winning and losing
positions. A number makes the picture checkable: how well each position's win probability
is predicted by the mean of its nearest neighbours', in the map and in the hidden space.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors

from ..engine.move_values import analyse_positions
from ..files import write_json
from ..families import family_of, load_model
from ..seeds import game_seed
from .figures import save_figure, plt
from .game_positions import model_positions, pick_positions


def neighbour_r2(points: np.ndarray, values: np.ndarray, k: int = 10) -> float | None:
    """R^2 of predicting each value by the mean of its ``k`` nearest other points' values
    (None for ``k`` points or fewer, where every point's neighbours are all the others)."""
    if len(points) <= k:
        return None
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    predicted = values[idx[:, 1:]].mean(axis=1)
    total = ((values - values.mean()) ** 2).sum()
    return float(1 - ((values - predicted) ** 2).sum() / total) if total > 0 else 0.0


def _fmt(r2: float | None) -> str:
    return "n/a (too few positions)" if r2 is None else f"{r2:.2f}"


def embed(hidden: np.ndarray, *, perplexity: float, seed: int) -> tuple[np.ndarray, float]:
    """2-D t-SNE of the hidden states; the perplexity is lowered for few points (it must
    stay below their number) and the one used is returned."""
    used = float(min(perplexity, max(1.0, (len(hidden) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=used, init="pca", random_state=seed).fit_transform(hidden)
    return xy, used


def tsne_figure(xy: np.ndarray, win: np.ndarray, plies: np.ndarray, outputs: Sequence[str | Path], *,
                title: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, values, cmap, label in ((axes[0], win, "RdYlGn", "Stockfish win probability (side to move)"),
                                    (axes[1], plies, "viridis", "ply")):
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap=cmap, s=14, edgecolors="none",
                        **({"vmin": 0, "vmax": 1} if values is win else {}))
        fig.colorbar(sc, ax=ax, label=label)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title("coloured by win probability")
    axes[1].set_title("coloured by game phase")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, outputs)


def run_tsne(model_path: str | Path, games_pgn: str | Path, json_out: str | Path,
             figures: Sequence[str | Path], *, cap: int, positions: int | None, perplexity: float,
             limit: Mapping[str, float], seed: int, engine_path: str, cache_dir: str | Path,
             threads: int = 1, device: str = "cpu", log: TextIO = sys.stderr) -> dict[str, object]:
    """Hidden states, Stockfish values, the t-SNE map and its figure for one cap's model."""
    from ..model.device import pick_device

    started = time.monotonic()
    torch.set_num_threads(1)
    model = load_model(model_path, pick_device(device))
    family = family_of(model)
    chosen = pick_positions(model_positions(games_pgn, family.context_length(model)), positions,
                            game_seed(seed, "analysis positions", cap))
    if len(chosen) < 2:
        raise ValueError(f"{games_pgn}: {len(chosen)} positions put to the model; a t-SNE map needs at least 2")
    values = analyse_positions([p.fen for p in chosen], engine_path=engine_path, limit=limit,
                               cache_dir=cache_dir, workers=threads, log=log)
    win = np.array([v.best for v in values])
    plies = np.array([p.ply for p in chosen])
    hidden = family.hidden_states(model, chosen)
    xy, used = embed(hidden, perplexity=perplexity, seed=game_seed(seed, "tsne", cap) % 2**32)
    r2_map, r2_hidden, r2_ply = neighbour_r2(xy, win), neighbour_r2(hidden, win), neighbour_r2(xy, plies)
    title = f"t-SNE of the last hidden state, cap {cap} ({len(chosen)} positions)"
    tsne_figure(xy, win, plies, figures, title=title)
    result = {
        "cap": cap, "positions": len(chosen), "perplexity": used, "engine_limit": dict(limit),
        "games": str(games_pgn),
        "neighbour_r2_map": r2_map, "neighbour_r2_hidden": r2_hidden, "neighbour_r2_map_ply": r2_ply,
        "win_probability_mean": float(win.mean()),
        "points": [{"game": p.game, "ply": p.ply, "fen": p.fen, "x": float(x), "y": float(y), "win": float(w)}
                   for p, (x, y), w in zip(chosen, xy, win)],
    }
    write_json(json_out, result)  # no timings in it: DVC hashes it, and re-running the same work must not change it
    print(f"[tsne cap {cap}] {len(chosen)} positions, perplexity {used:g}; win probability predicted by "
          f"10 nearest neighbours: R^2 {_fmt(r2_map)} in the map, {_fmt(r2_hidden)} in the hidden space "
          f"(ply: {_fmt(r2_ply)} in the map) "
          f"({time.monotonic() - started:.1f} s)", file=log, flush=True)
    return result

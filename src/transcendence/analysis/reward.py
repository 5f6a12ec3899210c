"""Expected reward over held-out positions: the paper's own definition of transcendence.

The paper defines transcendence as a higher expected reward than every expert's over a test
distribution. For the synthetic players that reward is exact per position, with no game to
play: a player of mistake rate ``eps`` plays the base engine's move with probability
``1 - eps`` and otherwise a mistake drawn by its persona and the mistake rule
(:meth:`transcendence.players.player.Player.mistake_distribution`), so its expected reward is
``(1 - eps) r(engine move) + eps * sum_m q(m) r(m)``. The model's at temperature T is
``sum_m p_T(m) r(m)`` with ``p_T = softmax(scores / T)`` over the legal moves; the ideal
learner's (:mod:`.ideal_learner`) the same with ``p_T ~ f^(1/T)`` of the data's exact
mixture ``f``. ``r`` is Stockfish's win probability of each move for the mover, the favor
analysis's reward (and its cache of multipv searches).

Averaged over the same positions, the model's and each player's mean rewards are compared
with bootstrap intervals over positions; the model minus the best player in the data is a
paired difference (both are measured in the same positions), so its interval is much
narrower than either mean's. No sampling noise enters: this is the low-noise counterpart of
the head-to-head games.

Positions: the family's test games (``Family.test_games``). For the board family, the games
its dataset held out (its val split, re-drawn by
:func:`transcendence.data.board_positions.val_games`), so the model never trained on them. The
text family's packed dataset keeps no game identity, so its positions are a seeded sample of
the cap's games, which the model may have trained on; the output says so (``held_out: false``).
"""

from __future__ import annotations

import bisect
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import chess
import numpy as np
import torch

from ..data.board_positions import train_positions_by_player
from ..engine.move_values import MoveValues, analyse_positions
from ..engine.uci import UciEngine, stop_engines_on_sigterm
from ..files import atomic_text, write_json
from ..families import family_of, load_model
from ..players.player import ENGINE_OPTIONS, Player
from ..seeds import game_seed
from .figures import save_figure, plt
from .ideal_learner import majority, mixture, mixture_weights, tempered


@dataclass(frozen=True)
class RewardPosition:
    """One test position: where it comes from, the game so far, and the board."""

    dump: int                 # index of the dump in the cap's data (the dataset's order)
    game: int                 # index of the game in that dump's file
    ply: int                  # moves played before this position
    sans: tuple[str, ...]     # the game so far (the text family's prompt)
    fen: str

    @property
    def moves_uci(self) -> list[str]:
        """The game so far in UCI, as the synthetic players' engine was given it."""
        board = chess.Board()
        out = []
        for san in self.sans:
            move = board.parse_san(san)
            out.append(move.uci())
            board.push(move)
        return out


# -- the positions ---------------------------------------------------------------------------

def sample_positions(games: Sequence[tuple[int, int, Sequence[str]]], plies: Sequence[int], n: int,
                     seed: int) -> list[RewardPosition]:
    """``n`` positions drawn uniformly without replacement from all (game, ply) pairs.

    One seeded permutation of the pairs, so a smaller sample is a prefix of a larger one
    (and shares its engine searches); only the chosen games are replayed.
    """
    ends = np.cumsum(np.asarray(plies, dtype=np.int64))
    total = int(ends[-1]) if len(ends) else 0
    if total == 0:
        raise ValueError("no positions to draw from")
    chosen = np.random.default_rng(seed).permutation(total)[:n]
    starts = [0, *ends[:-1].tolist()]
    out = []
    for flat in chosen.tolist():
        g = bisect.bisect_right(starts, flat) - 1  # the game holding pair `flat`
        ply = flat - starts[g]
        dump, index, sans = games[g]
        board = chess.Board()
        for san in sans[:ply]:
            board.push_san(san)
        out.append(RewardPosition(dump, index, ply, tuple(sans[:ply]), board.fen()))
    return out


# -- the arithmetic --------------------------------------------------------------------------

def player_reward(values: MoveValues, engine_move: str, eps: float, mistakes: Mapping[chess.Move, float]) -> float:
    """A synthetic player's expected reward: the engine's move with probability 1 - eps,
    else a mistake drawn from ``mistakes`` (move -> probability)."""
    mistake = sum(p * values.value(m.uci()) for m, p in mistakes.items())
    return (1.0 - eps) * values.value(engine_move) + eps * mistake


def model_reward(scores: torch.Tensor | np.ndarray, rewards: np.ndarray, temperature: float) -> float:
    """The model's expected reward at T: sum over legal moves of softmax(scores / T) * r."""
    logits = torch.as_tensor(np.asarray(scores, dtype=np.float64)) / temperature
    probs = torch.softmax(logits, dim=0).numpy()
    return float(probs @ np.asarray(rewards, dtype=np.float64))


def verdict(low: float, high: float) -> str:
    """Transcendence as the paired difference's interval against 0."""
    if low > 0:
        return "transcends"
    if high < 0:
        return "below"
    return "inconclusive"


def bootstrap_means(series: Mapping[str, np.ndarray], resamples: int, seed: int) -> dict[str, list[float]]:
    """95% percentile intervals of each series' mean, all from the same resamples of
    positions (so differences between series are paired)."""
    n = len(next(iter(series.values())))
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    out = {}
    for name, values in series.items():
        means = np.asarray(values, dtype=np.float64)[idx].mean(axis=1)
        out[name] = [float(v) for v in np.percentile(means, [2.5, 97.5])]
    return out


def reward_stats(model: Mapping[float, np.ndarray], players: Mapping[str, np.ndarray], best: str, *,
                 resamples: int, seed: int, ideal: Mapping[float, np.ndarray] | None = None) -> dict[str, object]:
    """Means and 95% intervals (percent) of the model at each T and of each player, and the
    paired difference model(T) - best player with its verdict; the same for the ideal
    learner's rewards (``ideal``), from the same resamples of positions."""
    series: dict[str, np.ndarray] = {f"T{t}": np.asarray(v) for t, v in model.items()}
    series.update({f"player:{p}": np.asarray(v) for p, v in players.items()})
    series.update({f"diff:T{t}": np.asarray(v) - np.asarray(players[best]) for t, v in model.items()})
    series.update({f"pdiff:{p}": np.asarray(v) - np.asarray(players[best]) for p, v in players.items()})
    for t, v in (ideal or {}).items():
        series[f"ideal:T{t}"] = np.asarray(v)
        series[f"idiff:T{t}"] = np.asarray(v) - np.asarray(players[best])
    ci = bootstrap_means(series, resamples, seed)

    def rows(level: str, diff: str, values: Mapping[float, np.ndarray]) -> list[dict[str, object]]:
        out = []
        for t in sorted(values):
            low, high = ci[f"{diff}:T{t}"]
            out.append({
                "temperature": t,
                "mean_reward": 100 * float(np.mean(values[t])),
                "mean_reward_ci": [100 * v for v in ci[f"{level}T{t}"]],
                "minus_best": 100 * float(np.mean(series[f"{diff}:T{t}"])),
                "minus_best_ci": [100 * low, 100 * high],
                "verdict": verdict(low, high),
            })
        return out

    player_rows = [{"name": p, "mean_reward": 100 * float(np.mean(v)),
                    "mean_reward_ci": [100 * x for x in ci[f"player:{p}"]],
                    "minus_best": 100 * float(np.mean(series[f"pdiff:{p}"])),
                    "minus_best_ci": [100 * x for x in ci[f"pdiff:{p}"]]} for p, v in players.items()]
    out: dict[str, object] = {"rows": rows("", "diff", model), "players": player_rows, "best_player": best}
    if ideal:
        out["ideal_rows"] = rows("ideal:", "idiff", ideal)
    return out


# -- the outputs -----------------------------------------------------------------------------

def reward_table(result: Mapping[str, object]) -> str:
    """Markdown: the model per temperature beside each player, and the paired difference."""
    pct = lambda v, s=False: f"{v:+.2f}" if s else f"{v:.2f}"  # noqa: E731
    lines = [f"# Expected reward, cap {result['cap']}", "",
             f"{result['positions']} positions "
             + ("held out from training (the board dataset's val games)" if result["held_out"]
                else "drawn from the cap's games (the model may have trained on them: held_out false)")
             + f"; reward = Stockfish's win probability for the mover (%, multipv at "
             f"{', '.join(f'{k} {v}' for k, v in result['value_limit'].items())}); "
             f"95% bootstrap intervals over positions ({result['bootstrap_resamples']} resamples).", "",
             "| player | eps | elo | mean reward (%) |", "|---|---|---|---|"]
    for p in result["players"]:
        best = " (best in the data)" if p["name"] == result["best_player"] else ""
        lines.append(f"| {p['name']}{best} | {p['eps']:g} | {p['elo']} | {pct(p['mean_reward'])} "
                     f"[{pct(p['mean_reward_ci'][0])}, {pct(p['mean_reward_ci'][1])}] |")
    lines += ["", f"| temperature | model mean reward (%) | minus {result['best_player']} (pp, paired) | verdict "
              f"| ideal learner minus {result['best_player']} (pp, paired) |", "|---|---|---|---|---|"]
    for r, i in zip(result["rows"], result["ideal"]["rows"]):
        lines.append(f"| {r['temperature']:g} | {pct(r['mean_reward'])} [{pct(r['mean_reward_ci'][0])}, "
                     f"{pct(r['mean_reward_ci'][1])}] | {pct(r['minus_best'], True)} "
                     f"[{pct(r['minus_best_ci'][0], True)}, {pct(r['minus_best_ci'][1], True)}] | {r['verdict']} "
                     f"| {pct(i['minus_best'], True)} [{pct(i['minus_best_ci'][0], True)}, "
                     f"{pct(i['minus_best_ci'][1], True)}] |")
    ideal = result["ideal"]
    lines += ["", "The ideal learner samples the data's exact mixture of players at the temperature "
              "(T -> 0: the majority vote). Its majority vote is the players' engine move in "
              f"{100 * ideal['majority_engine']:.1f}% of the positions and the shared mistake in "
              f"{100 * ideal['majority_shared']:.1f}%; the model's top move is the engine's in "
              f"{100 * ideal['model_top_engine']:.1f}% and the majority's in {100 * ideal['model_top_majority']:.1f}%."]
    return "\n".join(lines) + "\n"


def reward_figure(result: Mapping[str, object], outputs: Sequence[str | Path]) -> None:
    """Left: mean reward against temperature (log axis) with the players as bands. Right:
    the same minus the best player in the data, paired per position, which removes the
    positions' own spread (most of the left panel's interval widths)."""
    rows = result["rows"]
    temps = np.array([r["temperature"] for r in rows])
    players = sorted(result["players"], key=lambda p: p["mean_reward"])
    colors = plt.cm.Greys(np.linspace(0.35, 0.85, max(1, len(players))))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, ylabel in ((axes[0], "mean_reward", "mean expected reward (% win probability)"),
                            (axes[1], "minus_best", f"minus {result['best_player']} (percentage points, paired)")):
        for p, c in zip(players, colors):
            best = p["name"] == result["best_player"]
            color = "tab:red" if best else c
            if not (best and key == "minus_best"):
                ax.axhspan(*p[f"{key}_ci"], color=color, alpha=0.15, lw=0)
            ax.axhline(p[key], color=color, ls="--" if best else ":", lw=1.2,
                       label=f"{p['name']} (eps {p['eps']:g}){', best in the data' if best else ''}")
        mean = np.array([r[key] for r in rows])
        ci = np.array([r[f"{key}_ci"] for r in rows])
        ax.errorbar(temps, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], fmt="o-", color="tab:blue",
                    capsize=4, label="model")
        ideal = np.array([r[key] for r in result["ideal"]["rows"]])
        ax.plot(temps, ideal, "s--", color="tab:green", lw=1.2, label="ideal learner (the data's exact mixture)")
        ax.set_xscale("log")
        ax.set_xlabel("temperature")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_title("mean over positions")
    axes[1].set_title("model minus the best player (above 0: transcends)")
    held = "held-out positions" if result["held_out"] else "positions of its data (not held out)"
    fig.suptitle(f"Expected reward, cap {result['cap']} ({result['positions']} {held}; 95% bootstrap intervals)")
    fig.tight_layout()
    save_figure(fig, outputs)


def run_expected_reward(model_path: str | Path, dumps: Sequence[str | Path], json_out: str | Path,
                        md_out: str | Path, figures: Sequence[str | Path], *, cap: int,
                        players: Sequence[Player], temperatures: Sequence[float], positions: int,
                        value_limit: Mapping[str, float], val_fraction: float, resamples: int, seed: int,
                        engine_path: str, cache_dir: str | Path, val_games_expected: int | None = None,
                        threads: int = 1, device: str = "cpu", log: TextIO = sys.stderr) -> dict[str, object]:
    """Draw the positions, value their moves, compute every expected reward (the model's, each
    player's, the ideal learner's), write the outputs."""
    from ..model.device import pick_device

    inside = [p for p in players if p.rating <= cap]
    if not inside:
        raise ValueError(f"no player has a rating within cap {cap}: nothing to compare the model with")
    best = max(inside, key=lambda p: p.rating)
    rule = best.mistakes  # the data's one mistake rule: every synthetic player errs by it
    player_limit = best.limit
    started = time.monotonic()
    torch.set_num_threads(1)  # the threads run the engine pool; the model is tiny
    model = load_model(model_path, pick_device(device))
    family = family_of(model)
    games, plies = family.test_games(dumps, context=family.context_length(model), val_fraction=val_fraction, seed=seed)
    if family.held_out_positions and val_games_expected is not None and len(games) != val_games_expected:
        raise ValueError(f"found {len(games)} val games in {list(map(str, dumps))}, but the dataset held out "
                         f"{val_games_expected}: the data or dataset.val_fraction/seed changed since it was built")
    chosen = sample_positions(games, plies, positions, game_seed(seed, "reward positions", cap))
    weights = mixture_weights(train_positions_by_player(dumps, val_fraction=val_fraction, seed=seed), players)
    print(f"[reward cap {cap}] {len(chosen)} positions from {len(games)} "
          f"{'held-out (val) ' if family.held_out_positions else ''}games ({sum(plies)} positions) "
          f"in {time.monotonic() - started:.1f}s; the mixture's weights (share of training positions) "
          f"{ {k: round(v, 4) for k, v in weights.items()} }", file=log, flush=True)
    values = analyse_positions([p.fen for p in chosen], engine_path=engine_path, limit=value_limit,
                               cache_dir=cache_dir, workers=threads, log=log)
    searched = time.monotonic()
    # The players' base engine: one search per position from a cleared hash, given the
    # game's moves from the start as the synthetic games give them.
    with stop_engines_on_sigterm(), UciEngine(engine_path, options=ENGINE_OPTIONS) as engine:
        engine_moves = []
        for pos in chosen:
            engine.new_game()
            engine_moves.append(engine.best_move(pos.moves_uci, player_limit))
        engine_name = engine.name
    temps = sorted(float(t) for t in temperatures)
    model_r = {t: np.zeros(len(chosen)) for t in temps}
    ideal_r = {t: np.zeros(len(chosen)) for t in temps}
    player_r = {p.name: np.zeros(len(chosen)) for p in inside}
    votes = []  # per position: (engine move, shared move, majority, model's top move)
    with torch.no_grad():
        for i, (pos, value, engine_move) in enumerate(zip(chosen, values, engine_moves)):
            board = chess.Board(pos.fen)
            moves, scores = family.legal_move_scores(model, board, list(pos.sans))
            scores = scores.detach().cpu().double()
            r = np.array([value.value(m.uci()) for m in moves])
            # Each player's mistakes once per position: the network rule's shared move is a forward pass.
            mistakes = {p.name: p.mistake_distribution(board) for p in players
                        if weights.get(p.name) or p.name in player_r}
            f = mixture(board, chess.Move.from_uci(engine_move), players, weights, mistakes)
            f_moves = np.array([f[m] for m in moves])
            for t in temps:
                model_r[t][i] = model_reward(scores, r, t)
                ideal_r[t][i] = float(tempered(f_moves, t) @ r)
            for p in inside:
                player_r[p.name][i] = player_reward(value, engine_move, p.eps, mistakes[p.name])
            shared = rule.shared_move(board).uci() if not rule.independent else None
            votes.append((engine_move, shared, majority(f).uci(), moves[int(torch.argmax(scores))].uci()))
    stats = reward_stats(model_r, player_r, best.name, resamples=resamples,
                         seed=game_seed(seed, "reward bootstrap", cap), ideal=ideal_r)
    by_name = {p.name: p for p in inside}
    for row in stats["players"]:
        p = by_name[row["name"]]
        row.update({"eps": p.eps, "elo": p.rating, "persona": p.persona})
    result = {
        "cap": cap, "family": family.name, "held_out": family.held_out_positions,
        "positions": len(chosen), "candidate_games": len(games), "candidate_positions": int(sum(plies)),
        "value_limit": dict(value_limit), "player_limit": player_limit.to_config(), "mistakes": rule.to_config(),
        "engine": engine_name, "bootstrap_resamples": resamples,
        **{k: v for k, v in stats.items() if k != "ideal_rows"},
        "ideal": {"weights": weights, "rows": stats["ideal_rows"], **vote_shares(votes)},
        "positions_detail": [
            {"dump": p.dump, "game": p.game, "ply": p.ply, "fen": p.fen, "engine_move": m,
             "best_win_probability": v.best, "shared_move": vote[1], "majority": vote[2], "model_top": vote[3]}
            for p, v, m, vote in zip(chosen, values, engine_moves, votes)],
    }
    write_json(json_out, result)  # no timings: DVC hashes it, and the same work must give the same bytes
    with atomic_text(md_out) as fh:
        fh.write(reward_table(result))
    reward_figure(result, figures)
    for row in result["players"]:
        print(f"[reward cap {cap}] {row['name']}: {row['mean_reward']:.2f}% "
              f"[{row['mean_reward_ci'][0]:.2f}, {row['mean_reward_ci'][1]:.2f}]", file=log, flush=True)
    for label, rows in (("model", result["rows"]), ("ideal learner", result["ideal"]["rows"])):
        for row in rows:
            print(f"[reward cap {cap}] {label} T={row['temperature']:g}: {row['mean_reward']:.2f}% "
                  f"[{row['mean_reward_ci'][0]:.2f}, {row['mean_reward_ci'][1]:.2f}], minus {best.name} "
                  f"{row['minus_best']:+.2f} pp [{row['minus_best_ci'][0]:+.2f}, {row['minus_best_ci'][1]:+.2f}]: "
                  f"{row['verdict']}", file=log, flush=True)
    ideal = result["ideal"]
    print(f"[reward cap {cap}] majority vote = engine's move in {ideal['majority_engine']:.1%} of positions, "
          f"= the shared mistake in {ideal['majority_shared']:.1%}; model's top move = engine's "
          f"{ideal['model_top_engine']:.1%}, = the majority {ideal['model_top_majority']:.1%}", file=log, flush=True)
    print(f"[reward cap {cap}] {searched - started:.1f}s to draw and value the positions, "
          f"{time.monotonic() - started:.1f}s in all", file=log, flush=True)
    return result


def vote_shares(votes: Sequence[tuple[str, str | None, str, str]]) -> dict[str, object]:
    """Where the majority vote and the model's top move fall, over (engine, shared, majority, top) per position.

    ``model_top_shared_where_majority_shared`` is the learnability test: among the positions
    whose majority is the shared mistake (not also the engine's move), how often the model's
    top move is that mistake (None where there is no such position).
    """
    n = len(votes)
    shared_wins = [(s, top) for e, s, maj, top in votes if s is not None and maj == s != e]
    return {
        "majority_engine": sum(maj == e for e, _, maj, _ in votes) / n,
        "majority_shared": len(shared_wins) / n,
        "model_top_engine": sum(top == e for e, _, _, top in votes) / n,
        "model_top_shared": sum(s is not None and top == s for _, s, _, top in votes) / n,
        "model_top_majority": sum(top == maj for _, _, maj, top in votes) / n,
        "positions_majority_shared": len(shared_wins),
        "model_top_shared_where_majority_shared":
            sum(top == s for s, top in shared_wins) / len(shared_wins) if shared_wins else None,
    }

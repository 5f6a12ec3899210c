"""The board example: one position where low temperature plays the players' majority move,
which is good, while temperature 1 often plays something else.

The paper illustrates transcendence with such a board (docs/PROTOCOL.md: low temperature acts as a
majority vote of the players). This picks it honestly, from measured quantities only:

1. candidates: positions of the cap's data seen more than ``min_count`` times in the first
   plies (:mod:`transcendence.analysis.diversity`'s definition), the ``positions`` most visited, with
   more than one move played there;
2. the model scores every legal move there (the ``legal_moves`` mode of
   :mod:`transcendence.families.text.policy`); a candidate qualifies when the model's top move, the one
   it plays at low temperature, is the players' majority move;
3. the ``analysed`` qualifying positions where temperature 1 misses that move most often are
   scored by the engine (every legal move, multipv, as the mover's expected score with
   python-chess's ``lichess`` WDL model, as in the paper's favor analysis);
4. the example is the one where sampling at the low temperature gains the most expected
   score over temperature 1. If no candidate qualifies, the best of all candidates is shown
   and the JSON says so (``majority_is_low_t_choice: false``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import chess
import chess.svg
import torch

from ..engine.limit import EngineLimit, LimitLike
from ..engine.move_values import ENGINE_OPTIONS, MoveValues
from ..engine.uci import UciEngine, stop_engines_on_sigterm
from ..files import atomic_text, write_json
from ..families import family_of, load_model
from .diversity import count_positions

MAJORITY_COLOR = "#15781B"   # green: the players' majority move (low temperature's choice)
T1_COLOR = "#B22222"         # red: temperature 1's most likely other move
ENGINE_COLOR = "#1E4FA8"     # blue: the engine's best move, when it is neither


def engine_values(boards: Sequence[chess.Board], engine_path: str,
                  limit: EngineLimit) -> tuple[str, list[dict[chess.Move, float]]]:
    """The engine's name, and every legal move's expected score for the mover (0..1) in
    each board, from one multipv search per board.

    One engine process searches the boards in turn, its hash cleared before the first only,
    as python-chess's ``SimpleEngine`` searched them when this example was first made: a
    search at a depth limit depends on the hash the previous ones left, so this keeps the
    example's numbers. (The favor analysis's cached values,
    :mod:`transcendence.engine.move_values`, clear the hash before every position, which
    makes them independent of order; at depth 10 they differ from these by up to 0.05.)
    """
    with stop_engines_on_sigterm(), UciEngine(engine_path, options=ENGINE_OPTIONS) as engine:
        values = [MoveValues.from_lines(board.fen(), engine.analyse(board.fen(), limit,
                                                                    multipv=board.legal_moves.count()))
                  for board in boards]
        name = engine.name or engine_path
    return name, [{chess.Move.from_uci(m): v for m, v in zip(mv.moves, mv.values)} for mv in values]


def _probs(scores: torch.Tensor, temperature: float) -> list[float]:
    return torch.softmax(scores.double() / temperature, dim=-1).tolist()


def board_example(model_path: str | Path, data_paths: Sequence[str | Path], *, plies: int, min_count: int,
                  max_games: int | None, positions: int, analysed: int, low_temperature: float,
                  engine: str, limit: LimitLike, svg_out: str | Path, json_out: str | Path,
                  md_out: str | Path, threads: int = 1, log=None) -> dict[str, object]:
    """Pick the example position, draw it as SVG, explain it in JSON and Markdown."""
    limit = EngineLimit.parse(limit)  # a wrong limit fails before the model is read
    torch.set_num_threads(threads)  # the job's share of the CPU; small batches gain nothing from more
    counts = count_positions(data_paths, plies=plies, max_games=max_games, keep_prefixes=True)
    common = [(pos, moves) for pos, moves in counts.common(min_count) if len(moves) > 1][:positions]
    if not common:
        raise ValueError(f"no position of {[str(p) for p in data_paths]} is seen more than {min_count} "
                         f"times with two or more moves played; lower analysis.diversity.min_count")
    model = load_model(model_path)
    family = family_of(model)
    candidates = []
    for pos, moves in common:
        sans = list(counts.prefixes[pos])
        board = chess.Board()
        for san in sans:
            board.push_san(san)
        legal, scores = family.legal_move_scores(model, board, sans)
        majority_san = max(moves.items(), key=lambda kv: (kv[1], kv[0]))[0]
        majority = board.parse_san(majority_san)
        p1 = _probs(scores, 1.0)
        top = legal[int(torch.argmax(scores))]
        candidates.append({"pos": pos, "moves": moves, "sans": sans, "board": board, "legal": legal,
                           "scores": scores, "majority": majority, "qualifies": top == majority,
                           "miss_t1": 1.0 - p1[legal.index(majority)]})
    qualifying = [c for c in candidates if c["qualifies"]]
    pool = sorted(qualifying or candidates, key=lambda c: -c["miss_t1"])[:analysed]
    engine_name, values = engine_values([c["board"] for c in pool], engine, limit)
    for c, wp in zip(pool, values):
        c["wp"] = [wp.get(m, math.nan) for m in c["legal"]]
        for name, t in (("low", low_temperature), ("t1", 1.0)):
            c[f"expected_{name}"] = sum(p * w for p, w in zip(_probs(c["scores"], t), c["wp"]))
        c["gain"] = c["expected_low"] - c["expected_t1"]
    best = max(pool, key=lambda c: (c["gain"], sum(c["moves"].values())))
    info = _explain(best, low_temperature, engine_name, limit, len(candidates), len(qualifying))
    _draw(best, svg_out)
    write_json(json_out, info)
    with atomic_text(md_out) as fh:
        fh.write(_markdown(info))
    if log is not None:
        print(f"{len(candidates)} candidates, {len(qualifying)} with the majority move on top, "
              f"{len(pool)} analysed; chose {info['fen']} (gain {info['expected_score_gain']:+.3f})", file=log)
    return info


def _explain(c: dict, low_t: float, engine_name: str, limit: EngineLimit,
             n_candidates: int, n_qualifying: int) -> dict[str, object]:
    board: chess.Board = c["board"]
    visits = sum(c["moves"].values())
    p_low, p1 = _probs(c["scores"], low_t), _probs(c["scores"], 1.0)
    rows = []
    for i, move in enumerate(c["legal"]):
        san = board.san(move)
        rows.append({"move": san, "data_share": round(c["moves"].get(san, 0) / visits, 4),
                     "p_low_t": round(p_low[i], 4), "p_t1": round(p1[i], 4),
                     "engine_expected_score": round(c["wp"][i], 4)})
    rows.sort(key=lambda r: (-r["data_share"], -r["p_t1"]))
    best_engine = max(range(len(c["legal"])), key=lambda i: c["wp"][i])
    return {
        "fen": board.fen(),
        "moves_before": " ".join(c["sans"]),
        "side_to_move": "white" if board.turn else "black",
        "visits_in_data": visits,
        "majority_move": board.san(c["majority"]),
        "majority_is_low_t_choice": bool(c["qualifies"]),
        "t1_misses_majority": round(c["miss_t1"], 4),
        "engine_best_move": board.san(c["legal"][best_engine]),
        "low_temperature": low_t,
        "expected_score_low_t": round(c["expected_low"], 4),
        "expected_score_t1": round(c["expected_t1"], 4),
        "expected_score_gain": round(c["gain"], 4),
        "engine": engine_name,
        "engine_limit": limit.to_config(),
        "candidates": n_candidates,
        "candidates_with_majority_on_top": n_qualifying,
        "moves": rows,
    }


def _draw(c: dict, svg_out: str | Path) -> None:
    board: chess.Board = c["board"]
    p1 = _probs(c["scores"], 1.0)
    others = [i for i in range(len(c["legal"])) if c["legal"][i] != c["majority"]]
    arrows = [chess.svg.Arrow(c["majority"].from_square, c["majority"].to_square, color=MAJORITY_COLOR)]
    if others:
        alt = c["legal"][max(others, key=lambda i: p1[i])]
        arrows.append(chess.svg.Arrow(alt.from_square, alt.to_square, color=T1_COLOR))
    best = c["legal"][max(range(len(c["legal"])), key=lambda i: c["wp"][i])]
    if (best.from_square, best.to_square) not in {(a.tail, a.head) for a in arrows}:
        arrows.append(chess.svg.Arrow(best.from_square, best.to_square, color=ENGINE_COLOR))
    svg = chess.svg.board(board, orientation=board.turn, arrows=arrows, size=400)
    with atomic_text(svg_out) as fh:
        fh.write(svg)


def _markdown(info: Mapping[str, object]) -> str:
    lines = [
        "# Board example",
        "",
        f"Position after `{info['moves_before'] or '(start)'}`, {info['side_to_move']} to move "
        f"(`{info['fen']}`), seen {info['visits_in_data']} times in the cap's data.",
        "",
        f"- green arrow: the players' majority move **{info['majority_move']}**"
        + (", the model's top move (what it plays at low temperature)" if info["majority_is_low_t_choice"]
           else " (not the model's top move: no candidate had it on top)"),
        f"- red arrow: the move temperature 1 samples most often besides it; T=1 misses the majority "
        f"move in {100 * float(info['t1_misses_majority']):.1f}% of samples",
        f"- blue arrow (if drawn): the engine's best move {info['engine_best_move']}",
        "",
        f"Expected score for the mover ({info['engine']}, {info['engine_limit']}): "
        f"{info['expected_score_low_t']:.3f} at T={info['low_temperature']:g}, "
        f"{info['expected_score_t1']:.3f} at T=1 (gain {info['expected_score_gain']:+.3f}).",
        "",
        "| move | share in data | p(T low) | p(T=1) | engine expected score |",
        "|---|---|---|---|---|",
    ]
    for row in list(info["moves"])[:10]:  # type: ignore[arg-type]
        lines.append(f"| {row['move']} | {row['data_share']:.3f} | {row['p_low_t']:.3f} | {row['p_t1']:.3f} "
                     f"| {row['engine_expected_score']:.3f} |")
    return "\n".join(lines) + "\n"

"""Dataset diversity: how spread out the players' moves are in positions they often reach.

The paper (docs/PROTOCOL.md, "Published numbers the configs use") argues that transcendence needs diverse players and
measures it per cap as the mean normalised entropy of the moves played from common
positions: 0.70 (cap 1000), 0.66 (1300), 0.64 (1500). Its released analysis
(``analysis/dataset/plot_dataset.py`` in the authors' repository) fixes the details, and
this module follows them:

* games: the first ``max_games`` games of the cap's data, in file order (500,000 there);
* positions: the board before each of the first 17 plies (ply index 0..16), keyed by the
  full FEN, move counters included (so a transposition reached at another move number or
  halfmove clock is another position, as there);
* common: seen strictly more than ``min_count`` times (100 there);
* normalised entropy: the Shannon entropy of the move frequencies divided by the log of the
  number of *distinct moves played* there (not the number of legal moves), 0 when only
  one move was ever played. 1 means every move played was played equally often.

Only the first plies go through python-chess, positions are keyed by integers rather than
FEN strings (the FEN is rebuilt for the reported ones), and a position reached by a move
sequence already seen is looked up, not replayed: shared openings cost a dictionary lookup.
The counts equal those of the released code's python-chess replay of every game
(tests/test_analysis.py checks it).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import chess
import pandas as pd

from ..files import atomic_text, write_json
from ..pgn.stream import iter_games
from ..pgn.text import movetext_to_text

CSV_COLUMNS = ["cap", "fen", "visits", "distinct_moves", "majority_move", "majority_share", "entropy"]


def normalised_entropy(counts: Mapping[str, int] | Sequence[int]) -> float:
    """Entropy of the frequencies in ``counts`` over log(number of distinct outcomes).

    In [0, 1]; 0 for a single outcome. The base of the logarithm cancels.
    """
    values = [c for c in (counts.values() if isinstance(counts, Mapping) else counts) if c > 0]
    if len(values) < 2:
        return 0.0
    total = sum(values)
    entropy = -sum(c / total * math.log(c / total) for c in values)
    return min(1.0, entropy / math.log(len(values)))


# A position as plain integers: python-chess's bitboards, side to move, castling rights, the
# en-passant square when a capture there is legal (as in its FEN), and both move counters.
# Ten times cheaper than ``Board.fen()``; the FEN is rebuilt only for the positions reported.
PositionKey = tuple


def position_key(board: chess.Board) -> PositionKey:
    """The full-FEN identity of ``board`` (see :func:`key_fen` for the way back)."""
    return (board.pawns, board.knights, board.bishops, board.rooks, board.queens, board.kings,
            board.occupied_co[chess.WHITE], board.turn, board.clean_castling_rights(),
            board.ep_square if board.has_legal_en_passant() else None,
            board.halfmove_clock, board.fullmove_number)


def key_fen(key: PositionKey) -> str:
    """The FEN of a :func:`position_key` (``Board.fen()`` of the board it came from)."""
    pawns, knights, bishops, rooks, queens, kings, white, turn, castling, ep, half, full = key
    board = chess.Board.empty()
    for piece_type, mask in zip(chess.PIECE_TYPES, (pawns, knights, bishops, rooks, queens, kings)):
        for square in chess.scan_forward(mask):
            board.set_piece_at(square, chess.Piece(piece_type, bool(white & chess.BB_SQUARES[square])))
    board.turn, board.castling_rights, board.ep_square = turn, castling, ep
    board.halfmove_clock, board.fullmove_number = half, full
    return board.fen()


class PositionCounts:
    """Moves played from each position of the first plies of many games.

    With ``keep_prefixes``, ``prefixes[key]`` keeps the first move sequence (SANs) that
    reached the position, so a model can later be prompted with it (memory: one tuple per
    position, so off for the diversity table itself).
    """

    def __init__(self, plies: int, keep_prefixes: bool = False) -> None:
        self.plies = plies
        self.keep_prefixes = keep_prefixes
        self.moves: dict[PositionKey, Counter[str]] = defaultdict(Counter)
        self.prefixes: dict[PositionKey, tuple[str, ...]] = {}
        self.games = 0
        # Move sequence (text) -> position after it. A sequence is cached only when the one
        # before it already was, so the cache grows by at most one entry per game and holds
        # the openings that games share.
        self._after: dict[str, PositionKey] = {"": position_key(chess.Board())}

    def add_game(self, sans: Sequence[str], where: str = "") -> None:
        """Count the moves of one game's first ``plies + 1`` plies (ply indices 0..plies)."""
        self.games += 1
        board: chess.Board | None = None
        key = ""
        pos = self._after[""]
        for ply, san in enumerate(sans[: self.plies + 1]):
            self.moves[pos][san] += 1
            if self.keep_prefixes and pos not in self.prefixes:
                self.prefixes[pos] = tuple(sans[:ply])
            if ply == self.plies:
                break
            key = f"{key} {san}" if key else san
            if board is None:
                cached = self._after.get(key)
                if cached is not None:
                    pos = cached
                    continue
                board = chess.Board()  # leave the shared openings: replay this game once
                for earlier in sans[:ply]:
                    board.push_san(earlier)
                first_miss = True
            else:
                first_miss = False
            try:
                board.push_san(san)
            except ValueError as exc:
                raise ValueError(f"{where}: ply {ply + 1} ({san!r}) is not legal in {board.fen()}: {exc}") from exc
            pos = position_key(board)
            if first_miss:
                self._after[key] = pos

    def common(self, min_count: int) -> list[tuple[PositionKey, Counter[str]]]:
        """Positions seen more than ``min_count`` times, most visited first."""
        found = [(pos, moves) for pos, moves in self.moves.items() if sum(moves.values()) > min_count]
        return sorted(found, key=lambda item: -sum(item[1].values()))


def first_sans(movetext: str, n: int) -> list[str]:
    """The first ``n`` mainline SANs of a PGN movetext (the fast string path of pgn_text)."""
    body = movetext_to_text(movetext)[1:]
    tokens = body.split(" ", n)[:n] if body else []
    return [tok.split(".", 1)[1] if i % 2 == 0 else tok for i, tok in enumerate(tokens)]


def count_positions(paths: Iterable[str | Path], *, plies: int, max_games: int | None,
                    keep_prefixes: bool = False) -> PositionCounts:
    """Read the games of ``paths`` in order (up to ``max_games``) and count their early moves."""
    counts = PositionCounts(plies, keep_prefixes)
    for path in paths:
        for game in iter_games(path):
            if max_games is not None and counts.games >= max_games:
                return counts
            where = f"{path}: game at line {game.line}"
            try:
                sans = first_sans(game.movetext, plies + 1)
            except ValueError as exc:
                raise ValueError(f"{where}: unreadable movetext: {exc}") from exc
            counts.add_game(sans, where)
    return counts


def cap_rows(cap: int, counts: PositionCounts, min_count: int) -> list[dict[str, object]]:
    """One row per common position of one cap."""
    rows = []
    for pos, moves in counts.common(min_count):
        visits = sum(moves.values())
        fen = key_fen(pos)
        top, top_count = max(moves.items(), key=lambda kv: (kv[1], kv[0]))
        rows.append({"cap": cap, "fen": fen, "visits": visits, "distinct_moves": len(moves),
                     "majority_move": top, "majority_share": round(top_count / visits, 4),
                     "entropy": round(normalised_entropy(moves), 4)})
    return rows


def diversity_figure(rows: Sequence[Mapping[str, object]], summary: Mapping[str, Mapping[str, object]],
                     reference: Mapping[int, float], outputs: Sequence[str | Path]) -> None:
    """Histogram of the normalised entropies per cap with its mean as a solid line, and the
    paper's published means dotted (in the cap's colour, grey for caps not run here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import save_figure

    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = [i / 25 for i in range(26)]
    colors = {cap: f"C{i}" for i, cap in enumerate(summary)}
    for cap, info in summary.items():
        values = [float(r["entropy"]) for r in rows if str(r["cap"]) == cap]
        if values:
            ax.hist(values, bins=bins, weights=[1 / len(values)] * len(values), alpha=0.35, color=colors[cap],
                    label=f"cap {cap}: mean {info['mean_entropy']:.2f} ({len(values)} positions)")
            ax.axvline(float(info["mean_entropy"]), color=colors[cap], lw=1.5)
    for cap, value in sorted(reference.items()):
        ax.axvline(value, color=colors.get(str(cap), "grey"), ls=":", lw=1.5, label=f"paper, cap {cap}: {value:.2f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("normalised entropy of the moves played")
    ax.set_ylabel("share of common positions")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, outputs)


def diversity(inputs: Mapping[int, Sequence[str | Path]], *, plies: int, min_count: int,
              max_games: int | None, reference: Mapping[int, float] | None,
              json_out: str | Path, csv_out: str | Path, figures: Sequence[str | Path]) -> dict[str, object]:
    """Per cap: count, keep the common positions, write the table, summary and histogram."""
    rows: list[dict[str, object]] = []
    summary: dict[str, dict[str, object]] = {}
    reference = {int(c): float(v) for c, v in (reference or {}).items()}
    for cap in sorted(inputs):
        counts = count_positions(inputs[cap], plies=plies, max_games=max_games)
        mine = cap_rows(cap, counts, min_count)
        rows += mine
        entropies = sorted(float(r["entropy"]) for r in mine)
        summary[str(cap)] = {
            "games": counts.games,
            "positions_counted": len(counts.moves),
            "common_positions": len(mine),
            "mean_entropy": round(sum(entropies) / len(entropies), 4) if entropies else None,
            "median_entropy": entropies[len(entropies) // 2] if entropies else None,
            "paper_mean_entropy": reference.get(cap),
        }
    result = {"plies": plies, "min_count": min_count, "max_games": max_games,
              "definition": "entropy / log(distinct moves played), positions by full FEN, "
                            f"seen more than {min_count} times in ply indices 0..{plies}",
              "paper_reference": {str(c): v for c, v in sorted(reference.items())},
              "caps": summary}
    with atomic_text(csv_out) as fh:
        pd.DataFrame(rows, columns=CSV_COLUMNS, dtype=object).to_csv(fh, index=False, lineterminator="\n")
    write_json(json_out, result)
    diversity_figure(rows, summary, reference, figures)
    return result

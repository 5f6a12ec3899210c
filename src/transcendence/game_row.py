"""One evaluation game's row: the table the evaluation shards write and the ratings read.

Written here once, so the writer (:mod:`transcendence.play.evaluate`) and the reader
(:mod:`transcendence.rating.table`) cannot disagree on a column's name or what it parses as.
"""

from __future__ import annotations

# Every column, in the table's order, with the type its text parses as.
GAME_ROW: dict[str, type] = {
    "game": int, "model_color": str, "result": str, "model_score": float, "plies": int, "termination": str,
    "illegal_tries": int, "forfeit": int, "cap": int, "temperature": float, "mode": str, "opponent": str,
    "opponent_rating": float, "engine": str, "engine_options": str, "engine_restarts": int, "seed": int,
    "model_sha256": str,
}
GAME_ROW_COLUMNS: list[str] = list(GAME_ROW)


def row_types(*names: str) -> dict[str, type]:
    """The types of the columns ``names``, in that order (a reader's subset of the row)."""
    unknown = [n for n in names if n not in GAME_ROW]
    if unknown:
        raise KeyError(f"{unknown} are no columns of an evaluation game's row ({GAME_ROW_COLUMNS})")
    return {name: GAME_ROW[name] for name in names}

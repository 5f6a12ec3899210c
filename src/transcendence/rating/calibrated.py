"""What the calibration measured, read back for the ratings stage: each player's rating with its
interval, the anchor, and the games themselves, which the ratings stage fits again jointly with
a model's games (:mod:`.difference`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from ..pgn.stream import iter_games
from .ladder import RESULT_SCORES, PlayerRating


class CalibrationFileError(ValueError):
    """A calibration table or its games cannot be read back as the calibration wrote them."""


@dataclass(frozen=True)
class Calibration:
    """What the calibration measured: each player's rating with its interval, the anchor, and
    the games themselves (white, black, white's score), which the ratings stage fits again
    jointly with a model's games."""

    anchor: str
    ratings: Mapping[str, PlayerRating]
    games: Sequence[tuple[str, str, float]]


def read_calibration(csv_path: str | Path, pgn_path: str | Path) -> Calibration:
    """The calibration's table and games, as :func:`calibrate` wrote them."""
    table = pd.read_csv(csv_path, dtype={"name": str})
    ratings = {str(r["name"]): PlayerRating(str(r["name"]), float(r["rating"]), float(r["ci_low"]),
                                            float(r["ci_high"]), int(r["games"])) for r in table.to_dict("records")}
    anchors = [str(n) for n, a in zip(table["name"], table["anchor"]) if int(a) == 1]
    if len(anchors) != 1:
        raise CalibrationFileError(f"{csv_path} marks {len(anchors)} players as the anchor, not one")
    games = []
    for game in iter_games(pgn_path):
        score = RESULT_SCORES.get(game.tags.get("Result", ""))
        if score is None or game.malformed:
            raise CalibrationFileError(f"{pgn_path}: calibration game {game.tags.get('Round', '?')} has no result "
                                   f"({game.tags.get('Result')!r}); re-run the calibration")
        games.append((game.tags["White"], game.tags["Black"], score))
    return Calibration(anchors[0], ratings, games)

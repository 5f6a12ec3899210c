"""Opening suites: the position each pair of evaluation games starts from (issue 27).

The paper's protocol starts every game from the initial position, the model White in the
even games (suite ``start``, the default). The other suites give each pair of games one
opening, a list of moves from the initial position, played twice with colours swapped:
games ``2i`` (the model White) and ``2i + 1`` (the model Black) of every shard start with
opening ``i``, and every (temperature, opponent) shard of a cap plays the same openings, so
pairs are comparable across shards (the pentanomial statistics of engine testers score
the pair).

- ``held_out``: the first ``plies`` plies of distinct games of the cap's held-out (val)
  split, drawn with a seed: positions of the kind the model was trained on, in games it
  did not see (a test inside the training support);
- ``random``: ``plies`` uniformly random legal plies from the initial position, with a
  seed; a draw that ends in a finished game is drawn again (the next attempt's seed). Such
  positions are far from anything human players play (the out-of-support test); the
  synthetic players, which move at random often, play them too.

An opening is UCI moves from the initial position, so both model families read it as they
read any game (its moves are pushed onto the game before play; the text family's prompt
holds them), and its plies count toward the move limit. The openings of a cap are one JSON
file (:func:`write_openings`, rule ``openings``); evaluation reads it with
:func:`load_openings`. This module holds the typed values and the draws; reading the
held-out games is :mod:`transcendence.data.held_out`'s.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TextIO

import chess

from ..files import write_json
from ..seeds import game_seed

SUITES = ("start", "held_out", "random")
#: What each suite means, for error messages and the JSON file.
SUITE_TEXT = {
    "start": "the initial position (the paper's protocol)",
    "held_out": "the first plies of distinct games of the cap's held-out (val) split, drawn with the seed",
    "random": "uniformly random legal plies from the initial position, drawn with the seed "
              "(a draw that ends in a finished game is drawn again)",
}
KEY = "evaluate.openings"
_MAX_ATTEMPTS = 10_000  # random draws of one opening before giving up (plies near a game's length)


@dataclass(frozen=True)
class OpeningSuite:
    """The configured suite: ``start`` (no plies), or ``held_out``/``random`` with ``plies`` >= 1."""

    suite: str = "start"
    plies: int | None = None

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"{KEY}.suite: {self.suite!r} is not one of {', '.join(SUITES)}")
        if self.suite == "start":
            if self.plies is not None:
                raise ValueError(f"{KEY}.plies: suite start plays from the initial position; "
                                 f"plies ({self.plies}) is for held_out and random")
        elif isinstance(self.plies, bool) or not isinstance(self.plies, int) or self.plies < 1:
            raise ValueError(f"{KEY}.plies: suite {self.suite} needs plies, an integer >= 1 "
                             f"(the opening's length in plies), got {self.plies!r}")

    @classmethod
    def from_config(cls, value: Mapping[str, Any] | None) -> OpeningSuite:
        """The suite of the config's ``evaluate.openings`` (absent: ``start``)."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ValueError(f"{KEY}: expected a mapping such as {{suite: held_out, plies: 8}}, got {value!r}")
        unknown = sorted(set(value) - {"suite", "plies"})
        if unknown:
            raise ValueError(f"{KEY}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: plies, suite")
        if "suite" not in value:
            raise ValueError(f"{KEY}: suite is missing (one of {', '.join(SUITES)})")
        return cls(value["suite"], value.get("plies"))

    @property
    def is_start(self) -> bool:
        return self.suite == "start"

    def to_config(self) -> dict[str, Any]:
        return {"suite": self.suite} if self.is_start else {"suite": self.suite, "plies": self.plies}

    def __str__(self) -> str:
        return self.suite if self.is_start else f"{self.suite}, {self.plies} plies"


@dataclass(frozen=True)
class Opening:
    """One opening: its index in the suite and its moves from the initial position (UCI)."""

    index: int
    uci: tuple[str, ...]

    def board(self) -> chess.Board:
        """The position after the opening (raises ``ValueError`` on an illegal move)."""
        board = chess.Board()
        for move in self.uci:
            board.push(board.parse_uci(move))
        return board

    def sans(self) -> list[str]:
        board, out = chess.Board(), []
        for move in self.uci:
            parsed = board.parse_uci(move)
            out.append(board.san(parsed))
            board.push(parsed)
        return out


def movetext(sans: Sequence[str]) -> str:
    """``1. e4 e5 2. Nf3``: SAN for a human reading the file."""
    return " ".join(f"{i // 2 + 1}. {san}" if i % 2 == 0 else san for i, san in enumerate(sans))


@dataclass(frozen=True)
class Openings:
    """A cap's drawn openings as evaluation reads them, with the sha256 of their file."""

    suite: OpeningSuite
    seed: int
    openings: tuple[Opening, ...]
    sha256: str = ""

    def for_game(self, game: int) -> Opening:
        """The opening of game ``game``: the pair ``game // 2``."""
        return self.openings[game // 2]

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed shard must agree on (the suite, and the file's content by hash)."""
        return {**self.suite.to_config(), "sha256": self.sha256}

    def check_games(self, games: int) -> None:
        """Raise ``ValueError`` unless ``games`` games can be paired on these openings."""
        if games % 2:
            raise ValueError(f"{games} games cannot be paired: with {KEY}.suite {self.suite.suite} each "
                             "opening is played twice, colours swapped, so evaluate.games must be even")
        if len(self.openings) < games // 2:
            raise ValueError(f"{games} games need {games // 2} openings; the suite holds {len(self.openings)}")


def _finished(board: chess.Board) -> bool:
    return board.is_game_over(claim_draw=False)


def random_line(plies: int, seed: int | random.Random) -> tuple[str, ...] | None:
    """``plies`` uniformly random legal moves from the initial position (from ``seed``, or
    drawn with a given generator), or None where the game ends on the way or at its last ply
    (checkmate, stalemate, insufficient material, the 75-move rule, fivefold repetition)."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    board, moves = chess.Board(), []
    for _ in range(plies):
        if _finished(board):
            return None
        move = rng.choice(sorted(board.legal_moves, key=chess.Move.uci))  # sorted: python-chess's order is no contract
        board.push(move)
        moves.append(move.uci())
    return None if _finished(board) else tuple(moves)


def random_attempt_seed(seed: int, plies: int, index: int, attempt: int) -> int:
    """The seed of attempt ``attempt`` at opening ``index``: the suite, not the cap, decides
    it, so every cap plays the same random openings."""
    return game_seed(seed, "openings", "random", plies, index, attempt)


def random_openings(count: int, plies: int, seed: int) -> list[tuple[Opening, int]]:
    """``count`` random openings with the attempt that gave each (0 unless redrawn).

    Opening ``i`` depends on ``(seed, plies, i)`` only, so a longer suite extends a shorter one.
    """
    out = []
    for index in range(count):
        for attempt in range(_MAX_ATTEMPTS):
            line = random_line(plies, random_attempt_seed(seed, plies, index, attempt))
            if line is not None:
                out.append((Opening(index, line), attempt))
                break
        else:
            raise ValueError(f"{KEY}: no random opening of {plies} plies that does not end the game "
                             f"in {_MAX_ATTEMPTS} draws; lower plies")
    return out


def _opening_of(sans: Sequence[str], plies: int) -> tuple[str, ...] | None:
    """The first ``plies`` moves of a game as UCI, or None unless they and the next move are
    legal and the opening's position is not a finished game."""
    board, moves = chess.Board(), []
    try:
        for san in sans[:plies]:
            move = board.parse_san(san)
            moves.append(move.uci())
            board.push(move)
        if _finished(board):
            return None
        board.parse_san(sans[plies])
    except ValueError:
        return None
    return tuple(moves)


def held_out_openings(games: Iterable[tuple[Mapping[str, Any], Sequence[str]]], count: int, plies: int,
                      seed: int, *, where: str) -> tuple[list[tuple[Opening, dict[str, Any]]], dict[str, int]]:
    """``count`` openings from distinct held-out games of at least ``plies + 1`` plies.

    ``games`` are (where the game is, its SAN moves) in the split's order; each game draws a
    uniform key from one seeded stream, and the ``count`` eligible games with the smallest
    keys are the suite, in the order of their keys (a uniform draw without replacement in
    one pass, memory ``count``; a larger suite extends a smaller one). Only a game that would
    be drawn is replayed; one with an illegal move, or whose opening ends the game, is passed
    over. Returns the openings with where each came from, and the counts: ``val_games``,
    ``long_enough`` (at least ``plies + 1`` plies) and ``rejected`` (replayed and passed over). Too few
    eligible games raise ``ValueError`` naming ``where`` and the numbers.
    """
    rng = random.Random(game_seed(seed, "openings", "held_out", plies))
    heap: list[tuple[float, int, tuple[str, ...], dict[str, Any]]] = []  # (-key, order, moves, source)
    seen = long_enough = rejected = 0
    for order, (source, sans) in enumerate(games):
        key = rng.random()
        seen += 1
        if len(sans) < plies + 1:
            continue
        long_enough += 1
        if len(heap) == count and key >= -heap[0][0]:
            continue  # would not be drawn: no need to replay it
        line = _opening_of(sans, plies)
        if line is None:
            rejected += 1  # an illegal move or a finished game: not eligible
            continue
        item = (-key, order, line, dict(source))
        if len(heap) < count:
            heapq.heappush(heap, item)
        else:
            heapq.heapreplace(heap, item)
    if len(heap) < count:
        # Not full: every game long enough was replayed, so len(heap) == long_enough - rejected.
        raise ValueError(f"{where}: {len(heap)} of its {seen} held-out (val) games have at least {plies + 1} "
                         f"legal plies (an opening of {plies} plies and a move after it), but the suite needs "
                         f"{count} distinct ones (evaluate.games / 2); lower {KEY}.plies or evaluate.games, "
                         "or give the cap more games")
    chosen = sorted(heap, key=lambda item: (-item[0], item[1]))
    return ([(Opening(i, line), source) for i, (_, _, line, source) in enumerate(chosen)],
            {"val_games": seen, "long_enough": long_enough, "rejected": rejected})


def openings_document(suite: OpeningSuite, *, seed: int, cap: int, count: int,
                      openings: Sequence[tuple[Opening, Mapping[str, Any]]],
                      source: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON file of a cap's openings: the suite, the seed, where they come from, and each
    opening as UCI (what evaluation plays) and SAN (for a human)."""
    return {
        "suite": suite.suite, "plies": suite.plies, "seed": seed, "cap": cap, "count": count,
        "what": SUITE_TEXT[suite.suite], "source": dict(source),
        "pairs": "games 2i (the model White) and 2i + 1 (the model Black) of every shard start with opening i",
        "openings": [{"index": o.index, "uci": list(o.uci), "san": movetext(o.sans()), **dict(extra)}
                     for o, extra in openings],
    }


def build_openings(out: str | Path, suite: OpeningSuite, *, count: int, seed: int, cap: int,
                   held_out: Iterable[tuple[Mapping[str, Any], Sequence[str]]] | None = None,
                   source: Mapping[str, Any] | None = None, log: TextIO | None = None) -> dict[str, Any]:
    """Draw a cap's ``count`` openings and write them to ``out`` (rule ``openings``).

    ``held_out``: the cap's held-out games with where each is (``held_out`` suite only;
    :meth:`transcendence.families.base.Family.held_out_games`), and ``source`` what they are.
    """
    if suite.is_start:
        raise ValueError("suite start has no openings file: every game starts from the initial position")
    if suite.suite == "random":
        drawn = [(o, {"attempt": attempt}) for o, attempt in random_openings(count, suite.plies, seed)]
        described = {"from": "random legal moves from the initial position; the same for every cap "
                             "(the seed, plies and index decide each opening)",
                     "redrawn": sum(a["attempt"] > 0 for _, a in drawn)}
    else:
        if held_out is None:
            raise ValueError("the held_out suite needs the cap's held-out games")
        drawn, counts = held_out_openings(held_out, count, suite.plies, seed, where=f"cap {cap}")
        described = {**(source or {}), **counts}
    document = openings_document(suite, seed=seed, cap=cap, count=count, openings=drawn, source=described)
    write_json(out, document)
    if log is not None:
        print(f"[openings cap {cap}] {count} openings, suite {suite} ({described}): {out}", file=log, flush=True)
    return document


def load_openings(path: str | Path) -> Openings:
    """A cap's openings file, checked: a known suite, every opening ``plies`` legal moves
    that leave the game running, indices 0, 1, ...; with the file's sha256."""
    raw = Path(path).read_bytes()
    doc = json.loads(raw)
    try:
        suite = OpeningSuite(doc["suite"], doc["plies"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not an openings file ({exc})") from None
    if suite.is_start:
        raise ValueError(f"{path}: suite start has no openings")
    openings = []
    for i, entry in enumerate(doc.get("openings", [])):
        opening = Opening(int(entry["index"]), tuple(entry["uci"]))
        if opening.index != i or len(opening.uci) != suite.plies:
            raise ValueError(f"{path}: opening {i} is {entry!r}, not opening {i} of {suite.plies} plies")
        try:
            board = opening.board()
        except ValueError as exc:
            raise ValueError(f"{path}: opening {i} {list(opening.uci)} is not legal: {exc}") from None
        if _finished(board):
            raise ValueError(f"{path}: opening {i} {list(opening.uci)} ends the game")
        openings.append(opening)
    return Openings(suite, int(doc["seed"]), tuple(openings), hashlib.sha256(raw).hexdigest())

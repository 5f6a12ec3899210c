"""The rating-cap filter: one streaming pass routes each game to every cap it fits.

STUDY.md: a game is kept for cap R when both ``WhiteElo`` and ``BlackElo`` are at most R;
caps are nested, with no floor; games whose result is missing or ``*`` are dropped. Only
standard chess is kept. Every dropped game is counted by reason, so a count is never
silently wrong.

Speed: a Lichess month holds tens of millions of games, so the filter judges the common
case (plain ASCII, one tag per line, one-line movetext) on the raw bytes of whole-game
chunks, and hands anything else to the reference reader of :mod:`pgn_stream`, whose
decisions it reproduces exactly (``drop_reason`` is the rule both apply).
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

from .distinct_players import DistinctPlayers
from .files import atomic_binary, write_json
from .pgn_stream import RawGame, blocks, decode_chunk, games_of_blocks, iter_chunks

RESULTS = {"1-0", "0-1", "1/2-1/2"}
STANDARD = ("Standard", "From Position")  # Variant values that are standard chess


def drop_reason(tags: Mapping[str, str], malformed: str, movetext: str = "1.") -> str:
    """Why a game cannot be used for any cap ("" when it can)."""
    first = movetext.split(None, 1)[:1]  # the first token, if any
    if malformed == "no movetext" or not first or first[0] in RESULTS or first[0] == "*":
        return "no_moves"
    if malformed:
        return "malformed"
    variant = tags.get("Variant", "Standard")
    if variant not in STANDARD or "FEN" in tags or "SetUp" in tags:
        return "variant"
    if tags.get("Result") not in RESULTS:
        return "unfinished"
    white, black = tags.get("WhiteElo", "?"), tags.get("BlackElo", "?")
    if not (white.isdigit() and black.isdigit()):
        return "unrated"
    return ""


# A header block every line of which is exactly `[Name "value"]`: the only shape the fast path
# reads; anything else goes through the reference reader (pgn_stream), which names the flaw.
_PLAIN_HEADER = re.compile(rb'(?:\[\w+ "[^\n]*"\]\n)*+\[\w+ "[^\n]*"\]')
# The ASCII bytes that str methods count as whitespace and bytes methods do not.
_STR_ONLY_SPACE = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")
# drop_reason's values as bytes, for the fast path.
_RESULT_BYTES = {result.encode() for result in RESULTS}
_NO_MOVES = _RESULT_BYTES | {b"*"}  # a movetext that starts with one of these has no moves
_STANDARD = {variant.encode() for variant in STANDARD}


@dataclass
class _Tally:
    """What the filter has seen so far, shared by the fast path and the reference path."""

    dump: str
    caps: list[int]
    kept: dict[int, int]
    best: dict[int, int]
    pending: dict[int, list[bytes]]   # kept games not yet written, per cap
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    players: DistinctPlayers = field(default_factory=DistinctPlayers)
    read: int = 0

    def drop(self, reason: str, line: int, why: str = "") -> None:
        self.dropped[reason] += 1
        if reason not in self.examples:
            self.examples[reason] = f"{self.dump}: line {line}: {why or reason}"

    def keep(self, top: int, text: bytes, white: bytes, black: bytes) -> None:
        for cap in self.caps:
            if top <= cap:
                self.pending[cap].append(text)
                self.kept[cap] += 1
                if top > self.best[cap]:
                    self.best[cap] = top
        if top <= self.caps[-1]:
            self.players.add(white, top)
            self.players.add(black, top)

    def account(self, game: RawGame) -> None:
        """Judge one game read by the reference reader (the path for anything unusual)."""
        self.read += 1
        reason = drop_reason(game.tags, game.malformed, game.movetext)
        if reason:
            self.drop(reason, game.line, game.malformed)
            return
        top = max(int(game.tags["WhiteElo"]), int(game.tags["BlackElo"]))
        self.keep(top, game.text().encode(), game.tags.get("White", "").encode(),
                  game.tags.get("Black", "").encode())


def _value(piece: bytes, key: bytes, start: int, end: int) -> bytes | None:
    """The value of the last ``key`` tag line (``b'\\n[Name "'``) in ``piece[start:end]``."""
    at = piece.rfind(key, start, end)
    if at < 0:
        return None
    stop = piece.find(b"\n", at + 1, end)
    return piece[at + len(key):(end if stop < 0 else stop) - 2]


def _filter_chunk(chunk: bytes, first_line: int, tally: _Tally) -> None:
    """Judge every game of one chunk (whole games, from :func:`iter_chunks`).

    The fast path handles the shape Lichess writes: a header block of plain tag lines, a
    blank line, one ASCII movetext line, a blank line. It decides with ``bytes``
    methods on offsets into the chunk (no copy of a game it drops) what :func:`drop_reason`
    decides on parsed tags, and writes the bytes the reference would write. A game it
    cannot vouch for (odd bytes, a header line of another shape) goes through the
    reference reader alone; an odd block structure (extra blank lines, a game without
    moves) sends the rest of the chunk there. Tests check both paths agree game for game.
    """
    # A chunk with non-ASCII bytes (Lichess names openings "Réti" and "Grünfeld") or with the
    # control bytes str counts as whitespace: each game is then checked. Its movetext must be
    # plain ASCII, where bytes and str split and strip alike; its header, valid UTF-8. Tag
    # values compare as bytes exactly either way, except digits (str.isdigit takes
    # non-ASCII ones): an Elo that is not ASCII goes the reference way.
    non_ascii = not chunk.isascii()
    str_space = any(c in chunk for c in _STR_ONLY_SPACE)
    end = len(chunk)
    counted, line = 0, first_line  # line number at offset `counted`, advanced only when needed

    def line_at(offset: int) -> int:
        nonlocal counted, line
        line += chunk.count(b"\n", counted, offset)
        counted = offset
        return line

    def reference(start: int, stop: int) -> None:
        at = line_at(start)
        for game in games_of_blocks(blocks(decode_chunk(tally.dump, chunk[start:stop], at), at)):
            tally.account(game)

    last_cap = tally.caps[-1]
    value = _value
    read = 0  # games judged on the fast path (the reference path counts its own)
    pos = 0
    while pos < end:
        head_end = chunk.find(b"\n\n", pos)
        if head_end == pos and head_end + 2 == end:  # the chunk ended with a blank line
            break
        moves_at = head_end + 2
        # Lichess writes the movetext on one line: find its newline (memchr speed, five times
        # faster than a search for the blank line) and check a blank line follows.
        moves_end = chunk.find(b"\n", moves_at) if head_end >= 0 else -1
        if not (0 <= moves_end < end - 1 and chunk[moves_end + 1] == 10):
            moves_end = chunk.find(b"\n\n", moves_at) if head_end >= 0 else -1
            if moves_end < 0:
                moves_end = end
        if (head_end < 0 or chunk[pos] != 91 or moves_at >= moves_end or chunk[moves_at] <= 32
                or chunk[moves_at] == 91):  # 91 is "["
            tally.read += read
            reference(pos, end)
            return
        following = moves_end + 2
        if (pos == 0  # tag keys below start with a newline: the first header of a chunk has none
                or non_ascii and not chunk[moves_at:moves_end].isascii()
                or str_space and any(chunk.find(c, moves_at, moves_end) >= 0 for c in _STR_ONLY_SPACE)
                or not _PLAIN_HEADER.fullmatch(chunk, pos, head_end)):
            reference(pos, moves_end)
            pos = following
            continue
        if non_ascii and not (header := chunk[pos:head_end]).isascii():
            try:
                header.decode("utf-8")
            except UnicodeDecodeError:  # the line number is counted only now: counting is not free
                decode_chunk(tally.dump, header, line_at(pos))  # raises, naming file and line
        read += 1
        tags_at = pos - 1
        if ((moves_at + 1 == moves_end or chunk[moves_at + 1] != 46)  # 46 is ".": "1." starts no result
                and chunk[moves_at:min(moves_at + 8, moves_end)].split(None, 1)[0] in _NO_MOVES):
            tally.drop("no_moves", line_at(pos))
        elif ((chunk.find(b'\n[Variant "', tags_at, head_end) >= 0
               and value(chunk, b'\n[Variant "', tags_at, head_end) not in _STANDARD)
              or chunk.find(b'\n[FEN "', tags_at, head_end) >= 0
              or chunk.find(b'\n[SetUp "', tags_at, head_end) >= 0):
            tally.drop("variant", line_at(pos))
        elif value(chunk, b'\n[Result "', tags_at, head_end) not in _RESULT_BYTES:
            tally.drop("unfinished", line_at(pos))
        else:
            white_elo = value(chunk, b'\n[WhiteElo "', tags_at, head_end) or b"?"
            black_elo = value(chunk, b'\n[BlackElo "', tags_at, head_end) or b"?"
            if not (white_elo.isdigit() and black_elo.isdigit()):
                if non_ascii and not (white_elo.isascii() and black_elo.isascii()):
                    read -= 1  # counted again by the reference path
                    reference(pos, moves_end)
                else:
                    tally.drop("unrated", line_at(pos))
            elif (top := max(int(white_elo), int(black_elo))) <= last_cap:
                if chunk.find(b"\n", moves_at, moves_end) >= 0 or chunk[moves_end - 1] <= 32:
                    moves = chunk[moves_at:moves_end]
                    moves = b" ".join(part.strip() for part in moves.split(b"\n") if part.strip())
                    text = chunk[pos:moves_at] + moves + b"\n\n"
                elif following <= end:  # header, blank line, movetext on one line: the bytes as they stand
                    text = chunk[pos:following]
                else:  # the last game of a file that ends without a blank line
                    text = chunk[pos:moves_end] + b"\n\n"
                tally.keep(top, text, value(chunk, b'\n[White "', tags_at, head_end) or b"",
                           value(chunk, b'\n[Black "', tags_at, head_end) or b"")
        pos = following
    tally.read += read


def filter_dump(dump: str | Path, outputs: Mapping[int, str | Path], stats_path: str | Path,
                log: TextIO = sys.stderr, chunk: int = 1 << 22) -> dict[str, object]:
    """Write the games of ``dump`` that fit each cap to ``outputs[cap]``; write statistics.

    One streaming pass: memory holds one chunk of the dump and the distinct players.
    """
    caps = sorted(outputs)
    tally = _Tally(str(dump), caps, {cap: 0 for cap in caps}, {cap: 0 for cap in caps},
                   {cap: [] for cap in caps})
    started = time.monotonic()
    report_at = 200_000
    with ExitStack() as stack:
        sinks = {cap: stack.enter_context(atomic_binary(outputs[cap])) for cap in caps}
        for piece, line in iter_chunks(dump, chunk):
            _filter_chunk(piece, line, tally)
            for cap in caps:
                sinks[cap].write(b"".join(tally.pending[cap]))
                tally.pending[cap].clear()
            if tally.read >= report_at:
                report_at += 200_000
                rate = tally.read / (time.monotonic() - started)
                print(f"[filter {Path(dump).name}] {tally.read} games read, {rate:.0f} games/s",
                      file=log, flush=True)
    players = tally.players.count_at_most(caps)
    stats = {
        "dump": str(dump),
        "games_read": tally.read,
        "kept_per_cap": {str(cap): tally.kept[cap] for cap in caps},
        "dropped": dict(sorted(tally.dropped.items())),
        "dropped_examples": tally.examples,
        "best_rating_per_cap": {str(cap): tally.best[cap] for cap in caps},
        "players_per_cap": {str(cap): players[cap] for cap in caps},
        "seconds": round(time.monotonic() - started, 3),
    }
    write_json(stats_path, stats)
    print(f"[filter {Path(dump).name}] done: {tally.read} read, kept {stats['kept_per_cap']}, "
          f"dropped {stats['dropped']}", file=log, flush=True)
    return stats

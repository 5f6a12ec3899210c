"""The rating-cap filter: one streaming pass routes each game to every cap it fits.

docs/PROTOCOL.md: a game is kept for cap R when both ``WhiteElo`` and ``BlackElo`` are at most R;
caps are nested, with no floor; games whose result is missing or ``*`` are dropped. Only
standard chess is kept. Every dropped game is counted by reason, so a count is never
silently wrong.

Damaged dumps: a game whose bytes are not UTF-8 (``not_utf8``) or a run of bytes between
games that is no text at all (``binary``) is dropped and counted like any other, with the
line it was found at; the job fails only when such games exceed ``max_bad_share`` of the
games read, which says the file is not a PGN dump rather than a dump with a few scars.
Illegal moves: replaying a game with python-chess costs what filtering about 250 games
does (``benchmarks/filter_speed.py``), so replaying every kept game would make the filter
tens of times slower. The first game kept and every ``replay_every``-th after it (in file
order) is replayed instead; one with an illegal or unreadable move is dropped
(``illegal``). The sample measures how often the dump's games are illegal (``legality`` in
the statistics) for under one percent of the filter's time at 10000; the share found fails
the job above ``max_bad_share`` too. A share needs a sample that can support it: one illegal
game as the only game replayed would be 100%. So an illegal game found extends the sample,
replaying every following kept game until ``MIN_SAMPLE`` (200) have been replayed, or to
the dump's end (every game after it, in a dump smaller than that); the share is decided on
those (``replayed_after_illegal`` in ``legality`` counts them). A dump with no illegal
game in its sample is sampled, and its statistics written, exactly as without this rule.

Speed: a Lichess month holds tens of millions of games, so the filter judges the common
case (plain ASCII, one tag per line, one-line movetext) on the raw bytes of whole-game
chunks, and hands anything else to the reference reader of :mod:`pgn_stream`, whose
decisions it reproduces exactly (``drop_reason`` is the rule both apply).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TextIO

from ..files import atomic_binary, write_json
from ..pgn.stream import DumpError, RawGame, decoded_blocks, games_of_blocks, iter_chunks
from ..pgn.text import movetext_to_text, replay
from .distinct_players import DistinctPlayers

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
    if not (_is_rating(white) and _is_rating(black)):
        # "?" and other ASCII are how PGN writes no rating; anything else is a damaged header.
        return "unrated" if white.isascii() and black.isascii() else "bad_rating"
    return ""


def _is_rating(value: str) -> bool:
    """Whether a ``WhiteElo``/``BlackElo`` value is a rating: ASCII digits only.

    ``str.isdigit`` also takes ``²`` (which ``int`` refuses) and other scripts' digits
    (which ``int`` reads as numbers, so ``"٩٠٠"`` would be kept as 900).
    """
    return value.isascii() and value.isdigit()


def drop_why(game: RawGame, reason: str) -> str:
    """What a dropped game's example line says after its file and line."""
    if reason == "bad_rating":
        return (f'WhiteElo "{game.tags.get("WhiteElo", "?")}", BlackElo "{game.tags.get("BlackElo", "?")}": '
                f"a rating is ASCII digits")
    return game.bad_bytes or game.malformed or reason


#: The fewest games replayed before the share of illegal ones may fail a dump: an illegal
#: game found extends the legality sample to this many (or to the dump's end).
MIN_SAMPLE = 200

#: Drop reasons of bytes that are not text: they count against ``max_bad_share``.
BAD_BYTES = ("not_utf8", "binary")


def game_drop_reason(game: RawGame) -> str:
    """:func:`drop_reason` for a game of the reference reader, whose bytes may not be text.

    Bad bytes come first: tags or moves read through U+FFFD cannot be trusted. A block of
    them with no header before it is not a game at all but a run of garbage (``binary``).
    """
    if game.bad_bytes:
        return "not_utf8" if game.header else "binary"
    return drop_reason(game.tags, game.malformed, game.movetext)


def illegal_move(movetext: str) -> str:
    """Why a kept game's moves cannot be played from the start ("" when they all can)."""
    try:
        replay(movetext_to_text(movetext))
    except ValueError as exc:
        return str(exc)
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
    replay_every: int = 0  # replay every this many games that fit a cap (0: none)
    until_replay: int = 1  # games that fit a cap until the next replay
    replayed: int = 0
    extra: int = 0  # games still to replay because an illegal one was found (MIN_SAMPLE)
    replayed_after_illegal: int = 0  # of them, the games the regular sample would have skipped

    def drop(self, reason: str, line: int, why: str = "") -> None:
        self.dropped[reason] += 1
        if reason not in self.examples:
            self.examples[reason] = f"{self.dump}: line {line}: {why or reason}"

    def due(self) -> bool:
        """Count one game that fits a cap: True when it is one to replay.

        The first such game of the file is replayed, then every ``replay_every``-th after
        it, and every one while an illegal game found extends the sample (``MIN_SAMPLE``):
        the turn goes by the order of such games in the file, so the fast and the reference
        path (and any chunk size) replay the same games.
        """
        self.until_replay -= 1
        regular = not self.until_replay
        if regular:
            self.until_replay = self.replay_every
        if self.extra:
            self.extra -= 1
            self.replayed_after_illegal += not regular
            return True
        return regular

    def illegal(self, movetext: str, line: int) -> bool:
        """Replay a game's moves; count and drop it (True) when one is illegal or unreadable."""
        self.replayed += 1
        why = illegal_move(movetext)
        if why:
            self.drop("illegal", line, why)
            self.extra = max(self.extra, MIN_SAMPLE - self.replayed)
        return bool(why)

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
        reason = game_drop_reason(game)
        if reason:
            self.drop(reason, game.line, drop_why(game, reason))
            return
        top = max(int(game.tags["WhiteElo"]), int(game.tags["BlackElo"]))
        if (self.replay_every and top <= self.caps[-1] and self.due()
                and self.illegal(game.movetext, game.line)):
            return
        self.keep(top, game.text().encode(), game.tags.get("White", "").encode(),
                  game.tags.get("Black", "").encode())


def _value(piece: bytes, key: bytes, start: int, end: int) -> bytes | None:
    """The value of the last ``key`` tag line (``b'\\n[Name "'``) in ``piece[start:end]``."""
    at = piece.rfind(key, start, end)
    if at < 0:
        return None
    stop = piece.find(b"\n", at + 1, end)
    return piece[at + len(key):(end if stop < 0 else stop) - 2]


def _movetext(raw: bytes) -> str:
    """A fast-path game's movetext as the reference reader gives it (lines joined by a space)."""
    text = raw.decode("utf-8")
    return text.strip() if "\n" not in text else " ".join(
        part.strip() for part in text.split("\n") if part.strip())


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
        for game in games_of_blocks(decoded_blocks(chunk[start:stop], at)):
            tally.account(game)

    last_cap = tally.caps[-1]
    replaying = tally.replay_every > 0
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
            except UnicodeDecodeError:  # the reference path counts it, naming the line
                reference(pos, moves_end)
                pos = following
                continue
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
                if not (replaying and tally.due()
                        and tally.illegal(_movetext(chunk[moves_at:moves_end]), line_at(pos))):
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
                log: TextIO = sys.stderr, chunk: int = 1 << 22, *, max_bad_share: float = 0.01,
                replay_every: int = 0) -> dict[str, object]:
    """Write the games of ``dump`` that fit each cap to ``outputs[cap]``; write statistics.

    One streaming pass: memory holds one chunk of the dump and the distinct players.
    Games whose bytes are not text, and games of the legality sample (every
    ``replay_every``-th game that fits a cap) with an illegal move, are dropped and counted.
    When either share exceeds ``max_bad_share`` (config key ``filter.max_bad_share``), no
    output is written and a :class:`DumpError` says why, with the statistics in the log.
    """
    caps = sorted(outputs)
    tally = _Tally(str(dump), caps, {cap: 0 for cap in caps}, {cap: 0 for cap in caps},
                   {cap: [] for cap in caps}, replay_every=replay_every, until_replay=1)
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
            "legality": {"replay_every": replay_every, "replayed": tally.replayed,
                         "illegal": tally.dropped["illegal"]},
        }  # no timings: DVC hashes this file, and re-running the same work must not change it
        if tally.replayed_after_illegal:  # only then: a legal dump's statistics are as they were
            stats["legality"]["replayed_after_illegal"] = tally.replayed_after_illegal
        _refuse_a_damaged_dump(stats, tally, max_bad_share, log)
    write_json(stats_path, stats)
    if tally.dropped["illegal"]:
        print(f"[filter {Path(dump).name}] {tally.dropped['illegal']} of {tally.replayed} games replayed "
              f"had an illegal move and were dropped ({tally.replayed_after_illegal} of those replayed because "
              f"an illegal game extends the sample to {MIN_SAMPLE}); the games not replayed were kept unchecked",
              file=log, flush=True)
    print(f"[filter {Path(dump).name}] done: {tally.read} read, kept {stats['kept_per_cap']}, "
          f"dropped {stats['dropped']}, {time.monotonic() - started:.1f}s", file=log, flush=True)
    return stats


def _refuse_a_damaged_dump(stats: dict[str, object], tally: _Tally, max_bad_share: float,
                           log: TextIO) -> None:
    """Raise when bad bytes or illegal games exceed ``max_bad_share`` (before any output exists).

    A few damaged games cost those games; many say the file is not what it should be (another
    encoding, a damaged download, not PGN at all), and training on the rest would hide it.
    """
    bad = sum(tally.dropped[reason] for reason in BAD_BYTES)
    problems = []
    if tally.read and bad / tally.read > max_bad_share:
        first = next(tally.examples[r] for r in BAD_BYTES if r in tally.examples)
        problems.append(f"{bad} of {tally.read} games ({bad / tally.read:.2%}) are not UTF-8 text "
                        f"(first: {first})")
    illegal = tally.dropped["illegal"]
    if tally.replayed and illegal / tally.replayed > max_bad_share:
        problems.append(f"{illegal} of the {tally.replayed} games replayed ({illegal / tally.replayed:.2%}) "
                        f"have an illegal move (first: {tally.examples['illegal']})")
    if problems:
        print(json.dumps(stats, indent=2), file=log, flush=True)
        raise DumpError(f"{tally.dump}: {'; '.join(problems)}: more than filter.max_bad_share = "
                        f"{max_bad_share:g} of the games, so no output was written (statistics in the "
                        f"log). If the file is the right one and those games may be dropped, raise "
                        f"filter.max_bad_share in the config.")

"""Streaming reader of PGN dumps, fast enough for Lichess's monthly files.

A full PGN parser (python-chess) builds a board per move, about a thousand times slower
than needed just to read headers. This reader only splits the stream into games and their
header tags, one chunk of whole games at a time, so memory stays flat whatever the dump's
size. Errors name the file and the line where they happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import zstandard

from ..files import open_binary

_TAGS = re.compile(r'^\[(\w+)\s+"(.*)"\][ \t\r]*$', re.M)


MAX_GAME_BYTES = 1 << 26  # far beyond any real game; bounds memory on a file that is not PGN


class DumpError(RuntimeError):
    """A dump is truncated, corrupt or not PGN."""


@dataclass
class RawGame:
    """One game as it stands in the dump: its tags, raw header and movetext lines."""

    tags: dict[str, str]
    header: str
    movetext: str
    line: int            # line number of the game's first header line
    malformed: str = ""  # non-empty: why the game cannot be trusted
    bad_bytes: str = ""  # non-empty: where its bytes are not UTF-8 (the text holds U+FFFD there)

    def text(self) -> str:
        """The game as PGN, ready to be written to another dump."""
        return self.header + "\n" + self.movetext + "\n\n"


def iter_chunks(path: str | Path, chunk: int = 1 << 22,
                max_game: int = MAX_GAME_BYTES) -> Iterator[tuple[bytes, int]]:
    """The bytes of a PGN or ``.pgn.zst`` file in chunks that each end where a game starts.

    Each chunk comes with the line number it starts at. Line endings are normalised as a
    text-mode read would (``\\r\\n`` and a lone ``\\r`` become ``\\n``), so a CRLF dump reads
    like an LF one. A chunk is cut before the last ``"\\n\\n["`` it holds (a blank line, then
    a header line), so no game is ever split between two chunks; chunks hold whole games
    and the fast filter can work on them with C-speed ``bytes`` methods.
    """
    path = Path(path)
    rest, line = b"", 1
    try:
        with open_binary(path) as fh:
            while True:
                data = fh.read(chunk)
                while data.endswith(b"\r"):  # keep a CRLF that straddles two reads together
                    more = fh.read(1)
                    if not more:
                        break
                    data += more
                if not data:
                    if rest:
                        yield rest, line
                    return
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                cut = data.rfind(b"\n\n[")
                if cut >= 0:  # the usual case: one copy of the data, no concatenation first
                    piece, rest = b"".join((rest, memoryview(data)[:cut + 2])), data[cut + 2:]
                else:  # a game may start across the two reads, or not yet
                    buf = rest + data
                    cut = buf.rfind(b"\n\n[")
                    if cut < 0:
                        if len(buf) > max_game:
                            raise DumpError(f"{path}: no game starts in the {len(buf) >> 20} MB after line "
                                            f"{line}: not a PGN dump, or a game without blank lines")
                        rest = buf
                        continue
                    piece, rest = buf[:cut + 2], buf[cut + 2:]
                yield piece, line
                line += count_lines(piece)
    except zstandard.ZstdError as exc:
        raise DumpError(f"{path}: corrupt or truncated zstd stream after line {line}: {exc}") from exc


def count_lines(piece: bytes) -> int:
    """The newlines in ``piece``; numpy counts them three times faster than ``bytes.count``."""
    return int(np.count_nonzero(np.frombuffer(piece, dtype=np.uint8) == 10))


def decode_chunk(path: str | Path, piece: bytes, line: int) -> str:
    """``piece`` as text, or a :class:`DumpError` naming the file and line of the bad bytes."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = line + piece.count(b"\n", 0, exc.start)
        raise DumpError(f"{path}: not UTF-8 text at line {bad_line}: {exc}") from exc


def decoded_blocks(piece: bytes, line: int) -> Iterator[tuple[str, int, str]]:
    """The blocks of :func:`blocks` read from bytes, each with why it is not text ("" when it is).

    One byte that is not UTF-8 must cost one game, not the dump (a Lichess month is 30 GB).
    The piece is decoded whole when it can be (the common case); otherwise block by block:
    UTF-8 never uses the byte ``\n`` inside a character, so splitting the bytes at blank
    lines gives exactly the blocks that splitting the text would. A block that is not UTF-8
    is decoded with U+FFFD in place of its bad bytes and comes with the line they are on.
    """
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        for block, at in blocks(text, line):
            yield block, at, ""
        return
    for raw in piece.split(b"\n\n"):
        stripped = raw.strip(b"\n")
        start = line + (len(raw) - len(raw.lstrip(b"\n")))
        try:
            block, bad = stripped.decode("utf-8"), ""
        except UnicodeDecodeError as exc:
            block = stripped.decode("utf-8", errors="replace")
            at = start + stripped.count(b"\n", 0, exc.start)
            bad = f"not UTF-8 text at line {at} (byte 0x{stripped[exc.start]:02x})"
        if bad or block.strip():
            yield block, start, bad
        line += raw.count(b"\n") + 2


def blocks(text: str, line: int) -> Iterator[tuple[str, int]]:
    """Blank-line separated blocks of ``text``, each with the line number it starts at."""
    for block in text.split("\n\n"):
        stripped = block.strip("\n")
        if stripped.strip():
            yield stripped, line + (len(block) - len(block.lstrip("\n")))
        line += block.count("\n") + 2


def _header(block: str, line: int) -> tuple[dict[str, str], str]:
    """Tags of a header block, and why it is malformed ("" when it is not)."""
    pairs = _TAGS.findall(block)
    n_lines = block.count("\n") + 1
    if len(pairs) == n_lines:
        return dict(pairs), ""
    for offset, text in enumerate(block.split("\n")):
        if not _TAGS.match(text):
            return dict(pairs), f"bad header line {line + offset}: {text.strip()[:60]!r}"
    return dict(pairs), ""


def games_of_blocks(pieces: Iterable[tuple[str, int] | tuple[str, int, str]]) -> Iterator[RawGame]:
    """Assemble blocks into games.

    A game is a block of header lines followed by a block of movetext; a header block
    followed directly by another one is a game without moves (reported as malformed, never
    merged with the next game). Blocks from :func:`decoded_blocks` carry a third item, why
    their bytes are not text; a game with such a block says so in ``bad_bytes``.
    """
    pending: RawGame | None = None
    for piece in pieces:
        block, line = piece[0], piece[1]
        bad = piece[2] if len(piece) > 2 else ""
        if block[0] == "[":
            if pending is not None:
                pending.malformed = pending.malformed or "no movetext"
                yield pending
            tags, malformed = _header(block, line)
            pending = RawGame(tags, block + "\n", "", line, malformed, bad)
            continue
        movetext = block.strip() if "\n" not in block else " ".join(
            part.strip() for part in block.split("\n") if part.strip())
        if pending is None:  # movetext without headers
            yield RawGame({}, "", movetext, line, f"movetext without headers at line {line}", bad)
            continue
        pending.movetext = movetext
        pending.bad_bytes = pending.bad_bytes or bad
        yield pending
        pending = None
    if pending is not None:
        pending.malformed = pending.malformed or "no movetext"
        yield pending


def iter_games(path: str | Path, chunk: int = 1 << 22) -> Iterator[RawGame]:
    """Yield the games of a PGN or ``.pgn.zst`` file in order (see :func:`games_of_blocks`).

    Chunks end where a game starts, so a game is always assembled within one chunk.
    """
    for piece, line in iter_chunks(path, chunk):
        yield from games_of_blocks(blocks(decode_chunk(path, piece, line), line))

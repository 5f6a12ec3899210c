"""Streaming reader of PGN dumps, fast enough for Lichess's monthly files.

A full PGN parser (python-chess) builds a board per move, about a thousand times slower
than needed just to read headers. This reader only splits the stream into games and their
header tags, line by line, so memory stays flat whatever the dump's size. Errors name the
file and the line where they happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, TextIO

import zstandard

from .files import open_text

_TAGS = re.compile(r'^\[(\w+)\s+"(.*)"\][ \t\r]*$', re.M)


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

    def text(self) -> str:
        """The game as PGN, ready to be written to another dump."""
        return self.header + "\n" + self.movetext + "\n\n"


def _blocks(fh: TextIO, chunk: int) -> Iterator[tuple[str, int]]:
    """Blank-line separated blocks of the stream, each with the line number it starts at.

    Works on large chunks with ``str.split`` (C speed) instead of Python-level lines.
    """
    rest, line = "", 1
    while True:
        data = fh.read(chunk)
        complete = rest + data
        cut = complete.rfind("\n\n") if data else len(complete)
        if cut < 0:  # no block boundary yet: read more
            rest = complete
            continue
        rest = complete[cut + 2:]
        for block in complete[:cut].split("\n\n"):
            stripped = block.strip("\n")
            if stripped.strip():
                yield stripped, line + (len(block) - len(block.lstrip("\n")))
            line += block.count("\n") + 2
        if not data:
            return


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


def iter_games(path: str | Path, chunk: int = 1 << 22) -> Iterator[RawGame]:
    """Yield the games of a PGN or ``.pgn.zst`` file in order.

    A game is a block of header lines followed by a block of movetext; a header block
    followed directly by another one is a game without moves (reported as malformed, never
    merged with the next game).
    """
    path = Path(path)
    line = 0
    pending: RawGame | None = None
    try:
        with open_text(path) as fh:
            for block, line in _blocks(fh, chunk):
                if block[0] == "[":
                    if pending is not None:
                        pending.malformed = pending.malformed or "no movetext"
                        yield pending
                    tags, malformed = _header(block, line)
                    pending = RawGame(tags, block + "\n", "", line, malformed)
                    continue
                movetext = block.strip() if "\n" not in block else " ".join(
                    part.strip() for part in block.split("\n") if part.strip())
                if pending is None:  # movetext without headers
                    yield RawGame({}, "", movetext, line, f"movetext without headers at line {line}")
                    continue
                pending.movetext = movetext
                yield pending
                pending = None
            if pending is not None:
                pending.malformed = pending.malformed or "no movetext"
                yield pending
    except zstandard.ZstdError as exc:
        raise DumpError(f"{path}: corrupt or truncated zstd stream after line {line}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DumpError(f"{path}: not UTF-8 text after line {line}: {exc}") from exc

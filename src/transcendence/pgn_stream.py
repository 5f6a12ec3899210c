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
from typing import Iterator

import zstandard

from .files import open_text

_TAG = re.compile(r'^\[(\w+)\s+"(.*)"\]\s*$')


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


def iter_games(path: str | Path) -> Iterator[RawGame]:
    """Yield the games of a PGN or ``.pgn.zst`` file in order."""
    path = Path(path)
    lineno = 0
    tags: dict[str, str] = {}
    header: list[str] = []
    moves: list[str] = []
    start = 0
    malformed = ""

    def flush() -> RawGame:
        return RawGame(tags, "".join(header), " ".join(moves), start,
                       malformed or ("" if moves else "no movetext"))

    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.startswith("["):
                    if moves:  # a new header right after movetext: previous game ended
                        yield flush()
                        tags, header, moves, malformed = {}, [], [], ""
                    if not header:
                        start = lineno
                    m = _TAG.match(line)
                    if m is None:
                        malformed = malformed or f"bad header line {lineno}: {line.strip()[:60]!r}"
                    else:
                        tags[m.group(1)] = m.group(2)
                    header.append(line if line.endswith("\n") else line + "\n")
                elif line.strip():
                    if not header:
                        malformed = malformed or f"movetext without headers at line {lineno}"
                        start = start or lineno
                    moves.append(line.strip())
                elif moves:  # blank line after movetext ends the game
                    yield flush()
                    tags, header, moves, malformed = {}, [], [], ""
            if header or moves:
                yield flush()
    except zstandard.ZstdError as exc:
        raise DumpError(f"{path}: corrupt or truncated zstd stream after line {lineno}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DumpError(f"{path}: not UTF-8 text after line {lineno}: {exc}") from exc

"""Conversion between PGN movetext and the paper's one-line game text.

The paper trains on one game per line in a 32-character vocabulary
(:data:`transcendence.pgn.vocab.VOCAB`)::

    ;1.e4 e5 2.Nf3 Nc6 3.Bb5 a6

i.e. ``;`` + the mainline SAN moves, a ``N.`` prefix (no space) before every
White move, no Black move numbers, no comments, annotations, variations or
result.  Check/mate marks (``+``/``#``) and promotions (``=Q``) are kept.

The released preprocessing code had two defects that are deliberately *not*
reproduced here: draws ended in a stray `` 12-`` (a mangled ``1/2-1/2``), and
some games lost their last one or two characters.  Here the text is rebuilt
from the SAN tokens alone, so neither can happen.

:func:`movetext_to_text` works on the string alone (a split/set-lookup fast
path for plain Lichess movetext, a regular-expression lexer for everything
else; no board), because it has to run over ~1B Lichess games; the tests hold
it against a slow, trusted reference that goes through python-chess
(``game_to_text`` in tests/helpers.py).

:func:`text_to_sans`, :func:`replay` and :func:`prompt_for` go the other way:
they are what evaluation uses to read model output and to build prompts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import chess

from .vocab import GAME_START

__all__ = [
    "SAN_PATTERN",
    "movetext_to_text",
    "prompt_for",
    "replay",
    "sans_to_text",
    "text_to_sans",
]

#: Canonical SAN as python-chess and Lichess write it (castling with letter O,
#: promotions with ``=``), with an optional check/mate mark.  Pawn promotions
#: are only allowed on the first/last rank so ``e4=Q`` is rejected early.
SAN_PATTERN: str = (
    r"(?:O-O-O|O-O"
    r"|[NBRQK][a-h]?[1-8]?x?[a-h][1-8]"
    r"|[a-h](?:x[a-h])?(?:[18]=[NBRQ]|[1-8]))"
    r"[+#]?"
)
_SAN_RE = re.compile(SAN_PATTERN)

# Characters that may directly follow a move or result token.  Anything else
# (e.g. ``e4e5`` or ``1-0x``) makes the token invalid instead of silently
# splitting it into two.
_END = r"(?![^\s{}()$;])"

# One match = whatever PGN noise precedes a token (whitespace, {comments},
# $NAGs, move numbers such as ``12.`` / ``12...``, ``%`` escape lines) plus the
# token itself.  Folding the noise into the prefix means the Python loop in
# _movetext_sans runs about once per ply, not once per lexical token.
_TOKEN_RE = re.compile(
    r"(?:\s+|\{[^}]*\}|\$\d+|\d+\.+|(?m:^%[^\n]*))*"
    r"(?:"
    rf"(?P<san>{SAN_PATTERN})[!?]*{_END}"
    rf"|(?P<alt>(?:0-0-0|0-0|[a-h](?:x[a-h])?[18][NBRQ])[+#]?)[!?]*{_END}"
    rf"|(?P<result>1-0|0-1|1/2-1/2|\*){_END}"
    r"|(?P<open>\()"
    r"|(?P<close>\))"
    r"|(?P<line>;[^\n]*)"
    r"|(?P<end>\Z)"
    r"|(?P<bad>\S+)"
    r")"
)

_PROMO_NO_EQ_RE = re.compile(r"([a-h](?:x[a-h])?[18])([NBRQ])")


def _normalize_alt(san: str) -> str:
    """Canonical SAN for the tolerated variants ``0-0``/``0-0-0`` and ``e8Q``.

    Kept out of the hot path: Lichess never writes them, other exporters do.
    """
    if san.startswith("0"):
        return san.replace("0", "O")
    return _PROMO_NO_EQ_RE.sub(r"\1=\2", san, count=1)


# Move-number prefixes precomputed so that sans_to_text does its work in C
# (list slicing and str.join) rather than one f-string per move.
_NUMBERS: list[str] = [f"{i}." for i in range(1, 1001)]


def sans_to_text(sans: Sequence[str]) -> str:
    """Paper text for a mainline given as SAN strings from the standard start.

    The move numbers are derived from the ply index (White moves at even ply
    get ``N.``), so the text is always consistently numbered whatever the
    source PGN said.  An empty sequence gives ``";"``.
    """
    out = list(sans)
    white = out[0::2]
    if len(white) <= len(_NUMBERS):
        out[0::2] = [num + san for num, san in zip(_NUMBERS, white)]
    else:  # absurdly long game: numbers beyond the table
        out[0::2] = [f"{i + 1}.{san}" for i, san in enumerate(white)]
    return GAME_START + " ".join(out)


def _all_common_sans() -> frozenset[str]:
    """Every SAN string without full-square disambiguation, with ``+``/``#``.

    Used by the fast path of :func:`movetext_to_text`: a set lookup per token
    is much cheaper than a regular expression.  It is a strict subset of
    :data:`SAN_PATTERN` (rarer spellings such as ``Qh4e1`` fall back to the
    regex path), about 34k strings.
    """
    files = "abcdefgh"
    squares = [f + r for f in files for r in "12345678"]
    base: list[str] = ["O-O", "O-O-O"]
    for piece in "NBRQK":
        for dis in ["", *files, *"12345678"]:
            for cap in ("", "x"):
                base.extend(piece + dis + cap + sq for sq in squares)
    for i, f in enumerate(files):
        for r in "12345678":
            promos = [f"={p}" for p in "NBRQ"] if r in "18" else [""]
            targets = [f] + [files[j] for j in (i - 1, i + 1) if 0 <= j < 8]
            for t in targets:
                head = f + r if t == f else f"{f}x{t}{r}"
                base.extend(head + promo for promo in promos)
    return frozenset(s + mark for s in base for mark in ("", "+", "#"))


_COMMON_SANS: frozenset[str] = _all_common_sans()
_RESULTS: frozenset[str] = frozenset({"1-0", "0-1", "1/2-1/2", "*"})
_COMMENT_RE = re.compile(r"\{[^}]*\}")
# Move numbers as Lichess writes them (``12.`` before White's move, ``12...`` before
# Black's after a comment), and every token of a plain Lichess movetext but its result.
_MOVE_NUMBERS: frozenset[str] = frozenset(_NUMBERS + [num + ".." for num in _NUMBERS])
_PLAIN_TOKENS: frozenset[str] = _COMMON_SANS | _MOVE_NUMBERS


def _fast_movetext_sans(movetext: str) -> list[str] | None:
    """Mainline SANs of the common case, or ``None`` to defer to the full lexer.

    Covers what the Lichess database contains (``{}`` comments, ``N.`` and
    ``N...`` numbers, ``!?`` suffixes, NAGs, a final result) using only C-level
    string operations and set lookups, 2-4x faster than the lexer.  Any
    token it does not recognise -- including every error -- sends the whole
    movetext to :func:`_movetext_sans`, so both paths give the same answers
    and errors are always reported by the one that can explain them.
    """
    s = movetext
    if "{" in s:
        s = _COMMENT_RE.sub(" ", s)
    tokens = s.split()
    if tokens and tokens[-1] in _RESULTS:
        tokens.pop()
    # The Lichess case in C: every token a common SAN or a move number, the result last.
    # Exactly what the loop below returns for such a movetext, about 1.6x faster.
    if _PLAIN_TOKENS.issuperset(tokens):
        return list(filter(_COMMON_SANS.__contains__, tokens))
    if "(" in s or ")" in s or ";" in s or "%" in s or "}" in s or "{" in s:
        return None
    sans: list[str] = []
    append = sans.append
    common = _COMMON_SANS
    done = False
    for tok in s.split():
        if done:
            return None
        if tok in common:
            append(tok)
            continue
        head, dot, rest = tok.rpartition(".")
        if dot:
            num = head.rstrip(".")
            if not (num.isdigit() and num.isascii()):
                return None
            if not rest:
                continue  # "12." or "12..."
            tok = rest  # "12.e4"
            if tok in common:
                append(tok)
                continue
        if tok[0] == "$" and tok[1:].isdigit() and tok.isascii():
            continue
        if tok in _RESULTS:
            done = True
            continue
        stripped = tok.rstrip("!?")
        if stripped != tok and stripped in common:
            append(stripped)
            continue
        return None
    return sans


def _movetext_sans(movetext: str) -> list[str]:
    """Mainline SAN tokens of a PGN movetext (see :func:`movetext_to_text`)."""
    sans: list[str] = []
    depth = 0  # variation nesting; SAN inside a variation is not mainline
    seen_result = False
    pos = 0
    n = len(movetext)
    match = _TOKEN_RE.match
    while True:
        m = match(movetext, pos)
        assert m is not None  # the `bad` alternative matches any non-space
        kind = m.lastgroup
        if kind == "san" or kind == "alt":
            if seen_result:
                raise ValueError(
                    f"move {m.group(kind)!r} at offset {m.start(kind)} comes after the "
                    f"game result (two games in one movetext?)"
                )
            if depth == 0:
                san = m.group("san") if kind == "san" else _normalize_alt(m.group("alt"))
                sans.append(san)
        elif kind == "end":
            break
        elif kind == "result":
            if depth or seen_result:
                raise ValueError(
                    f"unexpected result {m.group('result')!r} at offset {m.start('result')}"
                    + (" inside a variation" if depth else " after the game result")
                )
            seen_result = True
        elif kind == "open":
            if seen_result:
                raise ValueError(f"variation at offset {m.start('open')} after the game result")
            depth += 1
        elif kind == "close":
            if depth == 0:
                raise ValueError(f"unbalanced ')' at offset {m.start('close')}")
            depth -= 1
        elif kind == "line":
            pass  # ';' comment up to end of line
        else:  # bad
            tok = m.group("bad")
            where = f"at offset {m.start('bad')} (after {len(sans)} mainline plies)"
            if tok.startswith("{"):
                raise ValueError(f"unterminated comment {tok!r} {where}")
            raise ValueError(
                f"token {tok!r} {where} is not a SAN move, move number, result, NAG or comment"
            )
        pos = m.end()
        if pos >= n:
            break
    if depth:
        raise ValueError(f"{depth} unclosed variation(s) at end of movetext")
    return sans


def movetext_to_text(movetext: str) -> str:
    """Paper text of a PGN movetext, string-level and without a board.

    Accepts Lichess-style movetext (``1. e4 { [%clk 0:03:00] } 1... e5 2. Nf3?!
    Nc6 1-0``), compact numbers (``1.e4 e5``), CR/LF line breaks, ``{}`` and
    ``;`` comments, ``%`` escape lines, NAGs (``$1``), nested ``(...)``
    variations and a final result (``1-0``, ``0-1``, ``1/2-1/2``, ``*``).
    ``!``/``?`` suffixes are stripped; ``0-0`` and ``e8Q`` are normalised to
    ``O-O`` and ``e8=Q``.  The move numbers in the input are ignored and
    re-derived from the ply index, which is only right for games from the
    standard start position (the only case needed).

    No legality check is done (that is what :func:`replay` is for), because
    this has to be fast enough for the whole Lichess database.  A movetext
    with no moves gives ``";"``; callers filter such games.

    :raises ValueError: naming the offending token and its offset, for
        anything that is not a SAN move, move number, result, NAG or comment,
        an unterminated comment, unbalanced parentheses, or moves after the
        result.
    """
    sans = _fast_movetext_sans(movetext)
    if sans is None:
        sans = _movetext_sans(movetext)
    return sans_to_text(sans)


def text_to_sans(text: str) -> list[str]:
    """SAN list of a paper-format game text (inverse of :func:`sans_to_text`).

    Strict on purpose, so that corrupt texts (a `` 12-`` result fragment,
    a cut-off last move, wrong numbering, double spaces) are caught instead
    of silently dropped: the text must start with ``;``, every White move
    must carry the right ``N.`` prefix, Black moves none, and every SAN must
    be canonical in form.  ``";"`` gives ``[]``.

    :raises ValueError: naming the ply and token that is malformed.
    """
    if not text.startswith(GAME_START):
        raise ValueError(f"game text must start with {GAME_START!r}: {text[:20]!r}")
    body = text[len(GAME_START):]
    if not body:
        return []
    sans: list[str] = []
    for i, tok in enumerate(body.split(" ")):
        san = tok
        if i % 2 == 0:
            prefix = f"{i // 2 + 1}."
            if not tok.startswith(prefix):
                raise ValueError(
                    f"ply {i + 1}: expected White move with prefix {prefix!r}, got {tok!r}"
                )
            san = tok[len(prefix):]
        if not _SAN_RE.fullmatch(san):
            raise ValueError(f"ply {i + 1}: {tok!r} is not a SAN move")
        sans.append(san)
    return sans


def _ply_label(ply: int) -> str:
    """Human-readable move label, e.g. ply 0 -> ``1.``, ply 1 -> ``1...``."""
    return f"{ply // 2 + 1}." + ("" if ply % 2 == 0 else "..")


def replay(text: str, *, strict: bool = False) -> chess.Board:
    """Board reached by playing a paper-format text from the standard start.

    With ``strict=True`` each SAN must also equal python-chess's own SAN for
    the move (exact disambiguation and ``+``/``#`` marks); that checks that a
    text is canonical, not just playable.

    :raises ValueError: naming the ply and SAN of the first illegal,
        ambiguous or (strict) non-canonical move.
    """
    board = chess.Board()
    for ply, san in enumerate(text_to_sans(text)):
        label = f"ply {ply + 1} ({_ply_label(ply)}{san})"
        try:
            move = board.parse_san(san)
        except ValueError as exc:
            raise ValueError(f"{label} is not legal in {board.fen()}: {exc}") from exc
        if strict:
            canonical = board.san(move)
            if canonical != san:
                raise ValueError(f"{label} is not canonical SAN; expected {canonical!r}")
        board.push(move)
    return board


def prompt_for(sans: Sequence[str]) -> str:
    """Paper-format prompt for the position after ``sans`` (from the start).

    The result is exactly the prefix of ``";" + full game text`` that ends
    right before the next move's SAN, so the model's next characters are that
    move: ``[] -> ";1."``, ``["e4"] -> ";1.e4 "``,
    ``["e4", "e5"] -> ";1.e4 e5 2."``.  I.e. with ``t = sans_to_text(game)``
    and ``k < len(game)``, ``t.startswith(prompt_for(game[:k]) + game[k])``.
    """
    n = len(sans)
    if n == 0:
        return GAME_START + "1."
    text = sans_to_text(sans)
    if n % 2 == 1:
        return text + " "
    return f"{text} {n // 2 + 1}."


def format_pgn(headers: Mapping[str, str], sans: Sequence[str], result: str) -> str:
    """One game in Lichess dump layout: headers, blank line, one-line movetext, blank line."""
    head = "".join(f'[{k} "{v}"]\n' for k, v in headers.items())
    parts = []
    for ply, san in enumerate(sans):
        if ply % 2 == 0:
            parts.append(f"{ply // 2 + 1}. {san}")
        else:
            parts.append(san)
    parts.append(result)
    return head + "\n" + " ".join(parts) + "\n\n"

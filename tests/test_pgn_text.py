"""Tests for the PGN -> paper text conversion (``transcendence.pgn.text``).

The core is a property test over seeded random games played with python-chess.
The move picker is biased towards the rare moves the text format must survive
(castling both sides, promotions with and without capture, en passant, checks,
mates), games end naturally (mate, stalemate, insufficient material, 75-move
rule) or are cut at an arbitrary ply (resignation / agreed draw / unfinished),
and each game is exported as Lichess-style PGN movetext full of noise
(clock/eval comments, NAGs, ``!?`` suffixes, nested variations, ``;`` comments,
CRLF line breaks, ``1...`` black numbers).  A coverage assertion makes sure the
corpus really contains every rare move kind, so the property test cannot
silently stop exercising them if the generator changes.
"""

from __future__ import annotations

import io
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import chess
import chess.pgn
import pytest

try:  # the package may not be installed (e.g. running straight from a checkout)
    import transcendence  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from transcendence.pgn import text as pgn_text
from transcendence.pgn.text import (
    movetext_to_text,
    prompt_for,
    replay,
    sans_to_text,
    text_to_sans,
)
from transcendence.pgn.vocab import VOCAB, decode, encode

from .helpers import game_to_text

N_RANDOM_GAMES = 100
RESULTS = ("1-0", "0-1", "1/2-1/2", "*")


# --------------------------------------------------------------------------
# Corpus generation
# --------------------------------------------------------------------------


@dataclass
class Sample:
    """One generated game: the decorated PGN tree plus ground truth."""

    name: str
    game: chess.pgn.Game
    sans: list[str]
    final_fen: str
    result: str
    kinds: set[str] = field(default_factory=set)


def _move_kinds(board: chess.Board, move: chess.Move, san: str) -> set[str]:
    """Which rare move kinds ``move`` (about to be played on ``board``) is."""
    kinds: set[str] = set()
    if san.startswith("O-O-O"):
        kinds.add("O-O-O")
    elif san.startswith("O-O"):
        kinds.add("O-O")
    if move.promotion:
        kinds.add("promotion-capture" if "x" in san else "promotion-push")
        if move.promotion == chess.QUEEN:
            kinds.add("=Q-capture" if "x" in san else "=Q-push")
    if board.is_en_passant(move):
        kinds.add("en-passant")
    if san.endswith("+"):
        kinds.add("check")
    if san.endswith("#"):
        kinds.add("mate")
    return kinds


def _pick_move(board: chess.Board, rng: random.Random) -> chess.Move:
    """A random legal move, biased towards the rare kinds the format must survive."""
    moves = list(board.legal_moves)
    promotions = [m for m in moves if m.promotion]
    if promotions and rng.random() < 0.85:
        queens = [m for m in promotions if m.promotion == chess.QUEEN]
        return rng.choice(queens if rng.random() < 0.7 else promotions)
    special = list(board.generate_castling_moves()) + list(board.generate_legal_ep())
    if special and rng.random() < 0.85:
        return rng.choice(special)
    if rng.random() < 0.2:
        checks = [m for m in moves if board.gives_check(m)]
        if checks:
            for m in checks:
                board.push(m)
                mate = board.is_checkmate()
                board.pop()
                if mate:
                    return m
            if rng.random() < 0.5:
                return rng.choice(checks)
    if rng.random() < 0.3:
        pawn_pushes = [m for m in moves if board.piece_type_at(m.from_square) == chess.PAWN]
        if pawn_pushes:
            return rng.choice(pawn_pushes)
    if rng.random() < 0.3:
        captures = [m for m in moves if board.is_capture(m)]
        if captures:
            return rng.choice(captures)
    return rng.choice(moves)


def _clock(rng: random.Random) -> str:
    seconds = rng.randrange(0, 3 * 3600)
    return f"[%clk {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}]"


def _comment(rng: random.Random) -> str:
    """Lichess-like comment, sometimes containing text that looks like PGN."""
    parts = []
    if rng.random() < 0.5:
        parts.append(f"[%eval {rng.uniform(-9, 9):.2f}]")
    parts.append(_clock(rng))
    if rng.random() < 0.15:
        parts.append(
            rng.choice(
                [
                    "(0.2 → -0.5) Inaccuracy. d4 was best.",
                    "1-0 e4 (Nf3) ; 1/2-1/2 *",
                    "White resigns? 0-1 $1",
                    "Mate in 2. Qh5+ Kxh5",
                ]
            )
        )
    return " ".join(parts)


def _add_side_line(
    node: chess.pgn.GameNode, board: chess.Board, rng: random.Random, depth: int
) -> None:
    """Attach a random variation (sometimes with nested sub-variations) at ``node``.

    ``board`` is the position at ``node``; it is passed in because
    ``GameNode.board()`` replays from the root, which makes long games quadratic.
    """
    b = board.copy(stack=False)
    taken = {v.move for v in node.variations}
    alternatives = [m for m in b.legal_moves if m not in taken]
    if not alternatives:
        return
    move = rng.choice(alternatives)
    child = node.add_variation(move, comment=_comment(rng))
    b.push(move)
    for _ in range(rng.randrange(1, 5)):
        moves = list(b.legal_moves)
        if not moves:
            break
        if depth < 2 and rng.random() < 0.2:
            _add_side_line(child, b, rng, depth + 1)  # added after the main child below
        move = rng.choice(moves)
        child = child.add_main_variation(move)
        b.push(move)


def _build_sample(name: str, moves: list[chess.Move], result: str, rng: random.Random) -> Sample:
    """Mainline tree of ``moves`` decorated with clocks/evals, NAGs and variations."""
    board = chess.Board()
    game = chess.pgn.Game()
    game.headers["Result"] = result
    node: chess.pgn.GameNode = game
    sans: list[str] = []
    kinds: set[str] = set()
    for move in moves:
        san = board.san(move)
        kinds |= _move_kinds(board, move, san)
        sans.append(san)
        child = node.add_variation(move)  # first child = mainline
        if rng.random() < 0.05:
            _add_side_line(node, board, rng, 0)
        board.push(move)
        node = child
        if rng.random() < 0.9:
            node.comment = _comment(rng)
        if rng.random() < 0.1:
            node.nags.add(rng.randrange(1, 20))
    if board.is_stalemate():
        kinds.add("stalemate")
    if board.is_insufficient_material() or board.is_seventyfive_moves() or board.is_fivefold_repetition():
        kinds.add("draw-rule")
    if not board.is_game_over():
        kinds.add("cut")
    return Sample(name, game, sans, board.fen(), result, kinds)


def _random_sample(seed: int) -> Sample:
    rng = random.Random(seed)
    board = chess.Board()
    moves: list[chess.Move] = []
    resign_rate = rng.choice([0.0, 0.005, 0.02, 0.1])
    max_plies = rng.choice([60, 200, 400])
    # The cheap end conditions only; the fivefold-repetition scan is quadratic.
    while len(moves) < max_plies and not (
        board.is_checkmate()
        or board.is_stalemate()
        or board.is_insufficient_material()
        or board.is_seventyfive_moves()
    ):
        if moves and rng.random() < resign_rate:
            break
        move = _pick_move(board, rng)
        moves.append(move)
        board.push(move)
    outcome = board.outcome()
    result = outcome.result() if outcome else rng.choice(RESULTS)
    return _build_sample(f"random-{seed}", moves, result, rng)


def _sans_sample(name: str, sans: str, result: str, seed: int) -> Sample:
    board = chess.Board()
    moves = []
    for san in sans.split():
        moves.append(board.push_san(san))
    return _build_sample(name, moves, result, random.Random(seed))


# Hand-picked games, reached by legal play from the start, so that the rare
# cases are in the corpus whatever the random generator does.
CONSTRUCTED = [
    ("scholars-mate", "e4 e5 Bc4 Nc6 Qh5 Nf6 Qxf7#", "1-0"),
    # Sam Loyd's 10-move stalemate.
    (
        "loyd-stalemate",
        "e3 a5 Qh5 Ra6 Qxa5 h5 h4 Rah6 Qxc7 f6 Qxd7+ Kf7 Qxb7 Qd3 Qxb8 Qh7 Qxc8 Kg6 Qe6",
        "1/2-1/2",
    ),
    # En passant, both castlings, capture promotions (one under-promotion, one with check).
    (
        "rare-moves",
        "e4 Nf6 e5 d5 exd6 e6 dxc7 Qd7 cxb8=Q Rxb8 d4 b5 Bf4 Bb7 Nc3 Bd6 Qd2 O-O "
        "O-O-O b4 Nb1 a5 h4 a4 h5 a3 h6 axb2+ Kxb2 b3 hxg7 bxa2 gxf8=N axb1=Q+",
        "*",
    ),
    ("resign-after-one", "e4", "0-1"),
]


@cache
def corpus() -> tuple[Sample, ...]:
    samples = [_random_sample(seed) for seed in range(N_RANDOM_GAMES)]
    samples += [_sans_sample(n, s, r, i) for i, (n, s, r) in enumerate(CONSTRUCTED)]
    return tuple(samples)


# --------------------------------------------------------------------------
# PGN movetext exporters
# --------------------------------------------------------------------------


def python_chess_movetext(sample: Sample) -> str:
    """Movetext as python-chess exports it: comments, NAGs, variations, ``1...``, 80-col wraps."""
    exporter = chess.pgn.StringExporter(headers=False, variations=True, comments=True)
    return sample.game.accept(exporter)


def lichess_movetext(sample: Sample, rng: random.Random) -> str:
    """Hand-rolled Lichess-style movetext with the extra noise python-chess never writes.

    Randomly: ``1.e4`` vs ``1. e4``, ``!?`` suffixes, ``$n`` NAGs, clock comments
    (after which Black gets a ``N...`` number, as on Lichess), ``;`` comments,
    ``%`` escape lines, nested variations, LF/CRLF/multi-space separators.
    """
    compact = rng.random() < 0.5
    newline = rng.choice(["\n", "\r\n"])
    out: list[str] = []

    def sep() -> str:
        r = rng.random()
        return newline if r < 0.1 else "  " if r < 0.15 else " "

    board = chess.Board()
    need_black_number = False
    for ply, san in enumerate(sample.sans):
        num = ply // 2 + 1
        if ply % 2 == 0:
            out.append(f"{num}.{san}" if compact else f"{num}. {san}")
        elif need_black_number:
            out.append(f"{num}...{san}" if compact else f"{num}... {san}")
        else:
            out.append(san)
        if rng.random() < 0.05:
            out[-1] += rng.choice(["!", "?", "!!", "??", "!?", "?!"])
        need_black_number = False
        r = rng.random()
        if r < 0.05:
            out.append(f"${rng.randrange(0, 140)}")
        if r < 0.7:
            out.append("{ " + _comment(rng) + " }")
            need_black_number = True
        if rng.random() < 0.03:
            out.append(f"; line comment with {{ ( 1-0 e4{newline}")
            need_black_number = True
        if rng.random() < 0.02:
            out.append(f"{newline}% escaped line 1. d4 ){newline}")
            need_black_number = True
        if rng.random() < 0.04:
            out.append(_variation_text(board, rng, depth=0))
            need_black_number = True
        board.push_san(san)
        out.append(sep())
    out.append(sample.result)
    text = "".join(x if x.isspace() else x + " " for x in out).rstrip() + rng.choice(["", newline])
    # No blank lines: in a PGN file they end the movetext (python-chess stops there).
    return re.sub(r"(\r?\n)[ \t]*(?:\r?\n[ \t]*)+", r"\1", text)


def _variation_text(board: chess.Board, rng: random.Random, depth: int) -> str:
    """A legal ``( ... )`` alternative to the move about to be played on ``board``.

    Written the way people and Lichess studies do (``N...`` for a Black start,
    comments, sometimes a nested sub-variation), so the lexer has to track depth.
    """
    b = board.copy(stack=False)
    parts: list[str] = []
    for i in range(rng.randrange(1, 5)):
        moves = list(b.legal_moves)
        if not moves:
            break
        move = rng.choice(moves)
        num = f"{b.fullmove_number}." if b.turn == chess.WHITE else f"{b.fullmove_number}..."
        san = b.san(move)
        parts.append(f"{num} {san}" if i == 0 or b.turn == chess.WHITE else san)
        if i == 1 and depth < 2 and rng.random() < 0.5:
            # A sub-variation follows the move it replaces.
            parts.append(_variation_text(b, rng, depth + 1))
        if rng.random() < 0.3:
            parts.append("{ alt (line) }")
        b.push(move)
    return "( " + " ".join(parts) + " )"


def oracle_text(sans: list[str]) -> str:
    """Independent statement of the paper format, for comparison."""
    return ";" + " ".join(f"{i // 2 + 1}.{s}" if i % 2 == 0 else s for i, s in enumerate(sans))


# --------------------------------------------------------------------------
# Property tests over the corpus
# --------------------------------------------------------------------------

SAMPLE_IDS = list(range(N_RANDOM_GAMES + len(CONSTRUCTED)))


def test_corpus_covers_rare_moves() -> None:
    """The random generator alone must produce every rare kind (and the corpus too)."""
    needed = {"O-O", "O-O-O", "=Q-push", "=Q-capture", "en-passant", "check", "mate"}
    random_kinds = Counter(k for s in corpus()[:N_RANDOM_GAMES] for k in s.kinds)
    missing = needed - set(random_kinds)
    assert not missing, f"random corpus lacks {missing}: {random_kinds}"
    all_kinds = Counter(k for s in corpus() for k in s.kinds)
    for kind in ("stalemate", "draw-rule", "cut", "promotion-push", "promotion-capture"):
        assert all_kinds[kind] > 0, f"corpus lacks {kind}: {all_kinds}"
    results = Counter(s.result for s in corpus())
    assert set(results) == set(RESULTS), results
    # Long games (many line wraps, long texts) must be there too.
    assert max(len(s.sans) for s in corpus()) >= 150


@pytest.mark.parametrize("idx", SAMPLE_IDS)
def test_movetext_roundtrip(idx: int) -> None:
    sample = corpus()[idx]
    rng = random.Random(10_000 + idx)
    expected = oracle_text(sample.sans)
    assert game_to_text(sample.game) == expected
    for style, movetext in (
        ("python-chess", python_chess_movetext(sample)),
        ("lichess", lichess_movetext(sample, rng)),
    ):
        ctx = f"{sample.name} [{style}]\n{movetext}"
        text = movetext_to_text(movetext)
        assert text == expected, ctx
        # python-chess's own parser agrees on the mainline.
        parsed = chess.pgn.read_game(io.StringIO(movetext))
        assert parsed is not None and not parsed.errors, ctx
        assert game_to_text(parsed) == text, ctx
        # Every character is in the vocabulary and survives encode/decode.
        assert set(text) <= set(VOCAB), ctx
        assert decode(encode(text)) == text
        # The text replays (canonically) to the very same position.
        assert replay(text, strict=True).fen() == sample.final_fen, ctx
        assert text_to_sans(text) == sample.sans, ctx
        # Nothing lost or added at the end: the last SAN is intact, no result fragment.
        if sample.sans:
            last = sample.sans[-1]
            assert text.endswith(" " + last) or text.endswith("." + last), ctx
        assert not re.search(r"(1-0|0-1|1/2|12-|-|\*|\s)$", text), ctx
        # The fast path and the full lexer agree whenever the fast path answers.
        fast = pgn_text._fast_movetext_sans(movetext)
        assert fast is None or fast == sample.sans, ctx
        assert pgn_text._movetext_sans(movetext) == sample.sans, ctx


def test_both_parser_paths_exercised() -> None:
    """Plain Lichess movetext takes the fast path, variations the full lexer."""
    fast = slow = 0
    for idx, sample in enumerate(corpus()[::2]):
        for movetext in (python_chess_movetext(sample), lichess_movetext(sample, random.Random(idx))):
            if pgn_text._fast_movetext_sans(movetext) is None:
                slow += 1
            else:
                fast += 1
    assert fast > 10 and slow > 10, (fast, slow)


@pytest.mark.parametrize("idx", SAMPLE_IDS[:: max(1, len(SAMPLE_IDS) // 25)])
def test_prompt_is_prefix_of_full_text(idx: int) -> None:
    sans = corpus()[idx].sans
    full = sans_to_text(sans)
    for k in range(len(sans)):
        prompt = prompt_for(sans[:k])
        assert full.startswith(prompt + sans[k])
        assert prompt + sans[k] == sans_to_text(sans[: k + 1])
        assert set(prompt) <= set(VOCAB)


# --------------------------------------------------------------------------
# Explicit cases
# --------------------------------------------------------------------------

STUDY_TEXT = ";1.e4 e5 2.Nf3 Nc6 3.Bb5 a6"


@pytest.mark.parametrize(
    "movetext",
    [
        "1. e4 e5 2. Nf3 Nc6 3. Bb5 a6",
        "1.e4 e5 2.Nf3 Nc6 3.Bb5 a6 *",
        "1. e4 { [%eval 0.17] [%clk 0:03:00] } 1... e5 2. Nf3?! Nc6 3. Bb5 a6 1-0",
        "1. e4 { [%clk 0:03:00] } 1... e5 { [%clk 0:03:00] } 2. Nf3 $6 { [%clk 0:02:58] }"
        " 2... Nc6 { [%clk 0:02:59] } 3. Bb5 { [%clk 0:02:57] } 3... a6 { [%clk 0:02:55] } 0-1",
        "1. e4 e5\r\n2. Nf3 (2. d4 exd4 (2... d6) 3. c3) 2... Nc6 ; a comment\r\n3. Bb5 a6\r\n1/2-1/2\r\n",
        "1.e4\n{ multi\nline } e5 2.Nf3\n%escape 1. d4\nNc6 3.Bb5 a6 1-0",
    ],
)
def test_study_example(movetext: str) -> None:
    assert movetext_to_text(movetext) == STUDY_TEXT


def test_draw_has_no_result_fragment() -> None:
    text = movetext_to_text("1. e4 e5 2. Nf3 Nf6 3. Nc3 Nc6 1/2-1/2")
    assert text == ";1.e4 e5 2.Nf3 Nf6 3.Nc3 Nc6"
    assert "12-" not in text and "1/2" not in text
    wrapped = movetext_to_text("1. e4 e5 2. Nf3 Nf6 3. Nc3 Nc6\r\n1/2-1/2\r\n")
    assert wrapped == text


def test_unfinished_and_result_only() -> None:
    assert movetext_to_text("1. d4 *") == ";1.d4"
    assert movetext_to_text("1. d4 d5 2. c4 *") == ";1.d4 d5 2.c4"
    assert movetext_to_text("1-0") == ";"
    assert movetext_to_text("") == ";"
    assert text_to_sans(";") == []
    assert replay(";").fen() == chess.STARTING_FEN


def test_checks_mates_promotions_kept() -> None:
    movetext = "1. e4 e5 2. Bc4 Nc6 3. Qh5 Nf6?? 4. Qxf7# 1-0"
    assert movetext_to_text(movetext) == ";1.e4 e5 2.Bc4 Nc6 3.Qh5 Nf6 4.Qxf7#"
    assert movetext_to_text("1. e4 d5 2. exd5+! Qxd5 *") == ";1.e4 d5 2.exd5+ Qxd5"


@pytest.mark.parametrize(
    ("movetext", "expected"),
    [
        ("1. e4 e5 2. Nf3 Nf6 3. Bc4 Bc5 4. 0-0 0-0 *", ";1.e4 e5 2.Nf3 Nf6 3.Bc4 Bc5 4.O-O O-O"),
        ("1. a4 b5 2. axb5 h6 3. b6 h5 4. bxc7 h4 5. cxd8Q+ Kxd8 *",
         ";1.a4 b5 2.axb5 h6 3.b6 h5 4.bxc7 h4 5.cxd8=Q+ Kxd8"),
    ],
)
def test_tolerated_spellings_are_normalised(movetext: str, expected: str) -> None:
    assert pgn_text._fast_movetext_sans(movetext) is None  # only the full lexer knows them
    assert movetext_to_text(movetext) == expected
    replay(expected, strict=True)


@pytest.mark.parametrize(
    ("movetext", "fragment"),
    [
        ("1. e4 e5 2. Nf3 foo 1-0", "'foo'"),
        ("1. e4 e9 *", "'e9'"),
        ("1. e4 e5 12-", "'12-'"),
        ("1. e4 -- 2. d4", "'--'"),
        ("1. e4 e5e6", "'e5e6'"),
        ("1. e4 { never closed", "unterminated comment"),
        ("1. e4 (1. d4 d5 2. c4", "unclosed variation"),
        ("1. e4 ) e5", "unbalanced ')'"),
        ("1. e4 e5 1-0 2. Nf3 Nc6", "after the game result"),
        ("1. e4 e5 1-0 0-1", "after the game result"),
        ("1. e4 (1. d4 1-0) e5", "inside a variation"),
        ("1. e4 e5 2. Nf3 Nc6 3. Bb5 ½-½", "'½-½'"),
    ],
)
def test_bad_movetext_raises(movetext: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        movetext_to_text(movetext)


def test_bad_token_error_says_where() -> None:
    with pytest.raises(ValueError, match=r"'foo' at offset 16 \(after 3 mainline plies\)"):
        movetext_to_text("1. e4 e5 2. Nf3 foo 1-0")


def test_prompt_for_examples() -> None:
    assert prompt_for([]) == ";1."
    assert prompt_for(["e4"]) == ";1.e4 "
    assert prompt_for(["e4", "e5"]) == ";1.e4 e5 2."
    assert prompt_for(["e4", "e5", "Nf3"]) == ";1.e4 e5 2.Nf3 "
    assert STUDY_TEXT.startswith(prompt_for(["e4", "e5", "Nf3", "Nc6"]) + "Bb5")


@pytest.mark.parametrize(
    "text",
    [
        ";1.e4 e5 12-",  # the released code's draw defect
        ";1.e4 e5 2.Nf",  # the released code's cut-off last move
        "1.e4 e5",  # missing ';'
        ";1.e4 1.e5",  # black move with a number
        ";1.e4 e5 3.Nf3",  # wrong number
        ";1.e4  e5",  # double space
        ";1.e4 e5 2.",  # prompt, not a game
        ";e4",  # missing number
    ],
)
def test_text_to_sans_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="ply|start"):
        text_to_sans(text)


def test_replay_illegal_move_names_ply_and_san() -> None:
    with pytest.raises(ValueError, match=r"ply 3 \(2\.Ke3\)"):
        replay(";1.e4 e5 2.Ke3")
    with pytest.raises(ValueError, match=r"ply 4 \(2\.\.\.Nxe4\)"):
        replay(";1.e4 e5 2.Nf3 Nxe4")


def test_replay_strict_requires_canonical_san() -> None:
    loose = ";1.e4 e5 2.Bc4 Nc6 3.Qh5 Nf6 4.Qxf7"  # mate mark missing
    assert replay(loose).is_checkmate()
    with pytest.raises(ValueError, match="Qxf7#"):
        replay(loose, strict=True)


def test_game_to_text_rejects_non_standard_start() -> None:
    game = chess.pgn.Game()
    game.setup("4k3/8/8/8/8/8/4P3/4K3 w - - 0 1")
    game.add_main_variation(chess.Move.from_uci("e2e4"))
    with pytest.raises(ValueError, match="standard position"):
        game_to_text(game)


def test_sans_to_text_long_game_numbers() -> None:
    sans = ["Nf3", "Nf6", "Ng1", "Ng8"] * 600  # beyond the precomputed number table
    text = sans_to_text(sans)
    assert text == oracle_text(sans)
    assert text_to_sans(text) == sans

"""The rating-cap filter and the streaming PGN reader on real files."""

from __future__ import annotations

import json

import pytest
import zstandard

from transcendence.filtering import filter_dump
from transcendence.pgn_stream import DumpError, iter_games


def game(white: str, black: str, result: str = "1-0", moves: str = "1. e4 e5 2. Nf3 Nc6", **extra: str) -> str:
    tags = {"Event": "Rated Blitz game", "White": "w", "Black": "b", "Result": result,
            "WhiteElo": white, "BlackElo": black, **extra}
    head = "".join(f'[{k} "{v}"]\n' for k, v in tags.items())
    return f"{head}\n{moves} {result}\n\n"


def write_zst(path, text: str) -> None:
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))


@pytest.fixture
def dump(tmp_path):
    games = [
        game("900", "950"),                     # all caps
        game("1000", "1000"),                   # all caps (at the cap is kept)
        game("1200", "990"),                    # 1300, 1500
        game("1499", "1500", result="0-1"),     # 1500 only
        game("1501", "800"),                    # none: one player above every cap
        game("?", "900"),                       # unrated
        game("900", "900", result="*"),         # unfinished
        game("900", "900", Variant="Chess960"),  # variant
        game("900", "900", moves=""),           # no movetext
    ]
    path = tmp_path / "month.pgn.zst"
    write_zst(path, "".join(games))
    return path


def test_routes_each_game_to_every_cap_it_fits(dump, tmp_path):
    outs = {c: tmp_path / f"cap{c}.pgn.zst" for c in (1000, 1300, 1500)}
    stats = filter_dump(dump, outs, tmp_path / "stats.json")
    assert stats["games_read"] == 9
    assert stats["kept_per_cap"] == {"1000": 2, "1300": 3, "1500": 4}
    assert stats["dropped"] == {"no_moves": 1, "unfinished": 1, "unrated": 1, "variant": 1}
    assert stats["best_rating_per_cap"] == {"1000": 1000, "1300": 1200, "1500": 1500}
    for cap, path in outs.items():
        kept = list(iter_games(path))
        assert len(kept) == stats["kept_per_cap"][str(cap)]
        assert all(int(g.tags["WhiteElo"]) <= cap and int(g.tags["BlackElo"]) <= cap for g in kept)
        assert all(g.movetext.startswith("1. e4") for g in kept)
    assert json.loads((tmp_path / "stats.json").read_text()) == stats


def test_crlf_dump_reads_like_lf(tmp_path):
    text = game("900", "900") + game("800", "700")
    lf, crlf = tmp_path / "lf.pgn.zst", tmp_path / "crlf.pgn.zst"
    write_zst(lf, text)
    write_zst(crlf, text.replace("\n", "\r\n"))
    a, b = list(iter_games(lf)), list(iter_games(crlf))
    assert [(g.tags, g.movetext) for g in a] == [(g.tags, g.movetext) for g in b]
    assert len(a) == 2


def test_truncated_zstd_names_the_file(tmp_path):
    data = zstandard.ZstdCompressor().compress(("".join(game("900", "900") for _ in range(500))).encode())
    path = tmp_path / "cut.pgn.zst"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DumpError, match="cut.pgn.zst"):
        list(iter_games(path))


def test_corrupt_zstd_leaves_no_outputs(tmp_path):
    path = tmp_path / "bad.pgn.zst"
    path.write_bytes(b"this is not zstd at all" * 10)
    out = tmp_path / "cap1000.pgn.zst"
    with pytest.raises(DumpError, match="bad.pgn.zst"):
        filter_dump(path, {1000: out}, tmp_path / "stats.json")
    assert not out.exists() and not (tmp_path / "stats.json").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_malformed_header_is_counted_not_kept(tmp_path):
    text = game("900", "900").replace('[Event "Rated Blitz game"]', '[Event Rated Blitz game') + game("900", "900")
    path = tmp_path / "m.pgn.zst"
    write_zst(path, text)
    stats = filter_dump(path, {1000: tmp_path / "o.pgn.zst"}, tmp_path / "s.json")
    assert stats["kept_per_cap"]["1000"] == 1
    assert stats["dropped"] == {"malformed": 1}
    assert "line 1" in stats["dropped_examples"]["malformed"]


def test_a_game_without_moves_is_not_merged_with_the_next(tmp_path):
    headers_only = game("900", "900").split("\n\n")[0] + "\n\n"
    path = tmp_path / "h.pgn.zst"
    write_zst(path, headers_only + game("800", "700", result="0-1"))
    games = list(iter_games(path))
    assert [g.malformed for g in games] == ["no movetext", ""]
    assert games[1].tags["WhiteElo"] == "800" and games[1].line == 8  # 6 tags + blank line
    stats = filter_dump(path, {1000: tmp_path / "o.pgn.zst"}, tmp_path / "s.json")
    assert stats["kept_per_cap"]["1000"] == 1 and stats["dropped"] == {"no_moves": 1}


def test_chunk_boundaries_do_not_change_games_or_line_numbers(tmp_path):
    text = "".join(game(str(500 + i), "600", moves=f"1. e4 {{ [%clk 0:03:00] }} 1... e5 2. Nf{3 if i % 2 else 6}")
                   for i in range(40)).replace("\n\n1.", "\n\n\n1.", 3)  # a few extra blank lines
    path = tmp_path / "c.pgn.zst"
    write_zst(path, text)
    whole = [(g.line, g.tags, g.movetext) for g in iter_games(path)]
    for chunk in (7, 64, 333):
        assert [(g.line, g.tags, g.movetext) for g in iter_games(path, chunk=chunk)] == whole
    assert len(whole) == 40 and whole[0][0] == 1
    lines = text.split("\n")
    assert all(lines[line - 1].startswith("[Event") for line, _, _ in whole)

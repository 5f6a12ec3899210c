"""The rating-cap filter and the streaming PGN reader on real files."""

from __future__ import annotations

import io
import json
import random

import pytest
import zstandard

from transcendence.files import open_text
from transcendence.filtering import drop_reason, filter_dump
from transcendence.distinct_players import DistinctPlayers
from transcendence.pgn_stream import DumpError, blocks, games_of_blocks, iter_chunks, iter_games


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


# --- The fast filter against the reference reader, on dumps with every oddity ------------------

def _odd_game(rng: random.Random, index: int) -> str:
    """One game, most of them as Lichess writes them, the rest with one oddity each."""
    white, black = rng.choice(["?", "0950", "1000", "1500", "1600", str(rng.randint(400, 1900))]), \
        str(rng.randint(400, 1900))
    result = rng.choice(["1-0", "0-1", "1/2-1/2", "1-0", "*"])
    tags = [("Event", "Rated Blitz game"), ("Site", f"https://lichess.org/{index:08d}"),
            ("White", rng.choice(["alice", "bob", f"p{rng.randint(0, 30)}", "", "Zoë"])),
            ("Black", f"p{rng.randint(0, 30)}"), ("Result", result), ("WhiteElo", white), ("BlackElo", black),
            ("TimeControl", "180+0")]
    moves = "1. e4 { [%clk 0:03:00] } 1... e5 2. Nf3 Nc6 3. Bb5 a6"
    oddity = rng.randrange(40)
    if oddity == 0:
        tags.append(("Variant", rng.choice(["Chess960", "Standard", "From Position"])))
    elif oddity == 1:
        tags.append((rng.choice(["FEN", "SetUp"]), "1"))
    elif oddity == 2:
        tags = [t for t in tags if t[0] != rng.choice(["WhiteElo", "BlackElo", "Result", "White"])]
    elif oddity == 3:
        tags.append(("WhiteElo", rng.choice(["?", "700", "2000"])))  # a duplicate: the last one counts
    elif oddity == 4:
        moves = ""                                                  # no moves: the result alone
    elif oddity == 5:
        moves = "1. e4 e5 2. Nf3\nNc6 3. Bb5\n a6"                  # wrapped movetext
    elif oddity == 6:
        moves = "  1. e4 e5 \t"                                     # stray whitespace
    head = "".join(f'[{k} "{v}"]\n' for k, v in tags)
    if oddity == 7:
        head = head.replace('[Event "Rated Blitz game"]', rng.choice(
            ['[Event Rated "Blitz"]', '[Event  "two spaces"]', '[Event\t"tab"]', '[Event "x"]  ',
             '[Event "unclosed', 'Event "no bracket"]', '[Ev-ent "dash"]']))
    if oddity == 8:
        head = head.replace("Rated", "Rat\x1ced")                    # str whitespace, bytes not
    elif oddity == 15:
        head = head.replace("Rated", "Réti")                         # accents, as in Lichess openings
    elif oddity == 16:
        head = head.replace(f'[WhiteElo "{white}"]', '[WhiteElo "٩٠٠"]')  # digits str accepts, bytes not
    elif oddity == 17:
        moves = rng.choice(["\u00a0", "\u2003"]) + moves              # str whitespace at its start
    text = f"{head}\n{moves} {result}\n\n".replace(" 1-0\n", "1-0\n") if oddity == 9 else f"{head}\n{moves} {result}\n\n"
    if oddity == 10:
        text = head + "\n"                                          # headers only: no movetext
    elif oddity == 14:
        text = f"{head}\n{rng.choice(['*', '1-0', '0'])}\n\n"          # a one-token movetext
    elif oddity == 11:
        text = text.replace("\n\n1.", "\n\n\n1.")                   # an extra blank line
    elif oddity == 12:
        text = f"{moves} {result}\n\n"                              # movetext without headers
    elif oddity == 13:
        text = text.replace(f"{result}\n\n", f"{result} \t\n\n")     # trailing whitespace
    elif oddity == 18:
        text = text.replace(f"{result}\n\n", f"{result}\x1f\n\n")     # trailing str-only whitespace
    return text


def _reference_filter(path, caps):
    """The filter's rules applied to the reference reader's games, whole file at once."""
    with open_text(path) as fh:
        games = list(games_of_blocks(blocks(fh.read(), 1)))
    kept = {cap: [] for cap in caps}
    dropped, examples, players = {}, {}, {cap: set() for cap in caps}
    for g in games:
        reason = drop_reason(g.tags, g.malformed, g.movetext)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            examples.setdefault(reason, f"{path}: line {g.line}: {g.malformed or reason}")
            continue
        top = max(int(g.tags["WhiteElo"]), int(g.tags["BlackElo"]))
        for cap in caps:
            if top <= cap:
                kept[cap].append(g.text())
                players[cap].update({g.tags.get("White", ""), g.tags.get("Black", "")} - {""})
    return len(games), kept, dict(sorted(dropped.items())), examples, players


@pytest.mark.parametrize("seed", range(6))
def test_fast_filter_agrees_with_the_reference_reader_game_for_game(tmp_path, seed):
    rng = random.Random(seed)
    text = "".join(_odd_game(rng, i) for i in range(400))
    if seed % 2:
        text = text.replace("\n", "\r\n")
    if seed % 3 == 0:
        text = text.rstrip("\n")                                    # no newline at the very end
    path = tmp_path / "odd.pgn.zst"
    write_zst(path, text)
    caps = [1000, 1500]
    read, kept, dropped, examples, players = _reference_filter(path, caps)
    assert sum(dropped.values()) > 20 and len(dropped) >= 5          # the dump exercises the rules
    for chunk in (97, 4096, 1 << 22):
        outs = {cap: tmp_path / f"c{chunk}-{cap}.pgn" for cap in caps}
        stats = filter_dump(path, outs, tmp_path / f"s{chunk}.json", log=io.StringIO(), chunk=chunk)
        assert stats["games_read"] == read
        assert stats["dropped"] == dropped and stats["dropped_examples"] == examples
        assert stats["players_per_cap"] == {str(c): len(players[c]) for c in caps}
        for cap in caps:
            assert outs[cap].read_text() == "".join(kept[cap]), (chunk, cap)


def test_distinct_players_count_each_name_once_per_cap_across_batches():
    rng = random.Random(3)
    games = [(f"p{rng.randint(0, 3000)}".encode(), rng.randint(500, 1600)) for _ in range(5000)]
    counter = DistinctPlayers(batch=64)  # many compactions
    for name, top in games:
        counter.add(name, top)
    counter.add(b"", 500)                # no name: no one
    expected = {cap: len({name for name, top in games if top <= cap}) for cap in (800, 1200, 1600)}
    assert counter.count_at_most([800, 1200, 1600]) == expected
    assert expected[800] < expected[1200] < expected[1600]


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path):
    path = tmp_path / "latin1.pgn"
    good = game("900", "900").encode()  # the bad game in the middle of a chunk, and as a chunk's first
    path.write_bytes(good + game("900", "900", White="Zo\xeb").encode("latin-1") + good)
    other = tmp_path / "latin1-last.pgn"
    other.write_bytes(good + game("900", "900", White="Zo\xeb").encode("latin-1"))
    with pytest.raises(DumpError, match=r"latin1-last.pgn: not UTF-8 text at line 11"):
        filter_dump(other, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=io.StringIO())
    with pytest.raises(DumpError, match=r"latin1.pgn: not UTF-8 text at line 11"):
        filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=io.StringIO())
    assert not (tmp_path / "o.pgn").exists()


def test_a_file_without_games_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "blob.pgn"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(DumpError, match="blob.pgn: no game starts"):
        list(iter_chunks(path, chunk=16, max_game=1000))

"""The rating-cap filter and the streaming PGN reader on real files."""

from __future__ import annotations

import io
import json
import random

import pytest
import zstandard

from transcendence.files import open_binary
from transcendence.data.filtering import MIN_SAMPLE, drop_why, filter_dump, game_drop_reason, illegal_move
from transcendence.data.distinct_players import DistinctPlayers
from transcendence.pgn.stream import DumpError, decoded_blocks, games_of_blocks, iter_chunks, iter_games


def game(white: str, black: str, result: str = "1-0", moves: str = "1. e4 e5 2. Nf3 Nc6", **extra: str) -> str:
    tags = {"Event": "Rated Blitz game", "White": "w", "Black": "b", "Result": result,
            "WhiteElo": white, "BlackElo": black, **extra}
    head = "".join(f'[{k} "{v}"]\n' for k, v in tags.items())
    return f"{head}\n{moves} {result}\n\n"


def write_zst(path, text: str) -> None:
    """Write ``text`` compressed; lone surrogates (``"\\udceb"``) become the bad byte (0xeb)."""
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode("utf-8", "surrogateescape")))


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
    elif oddity == 21:
        head = head.replace("Rated", "R\udce9ti")                    # Latin-1, not UTF-8, in a header
    elif oddity == 16:
        head = head.replace(f'[WhiteElo "{white}"]', '[WhiteElo "٩٠٠"]')  # digits str and int accept: bad_rating
    elif oddity == 17:
        moves = rng.choice(["\u00a0", "\u2003"]) + moves              # str whitespace at its start
    elif oddity == 19:
        moves = moves.replace("Nf3", "Nf3 { Zo\udceb }")              # a byte that is not UTF-8 in the moves
    elif oddity == 20:
        moves = rng.choice(["1. e4 e5 2. Ke3 Nc6", "1. e4 e5 2. Nf3 Nf3", "1. e9"])  # illegal (or no) move
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
    elif oddity == 22:
        text = rng.choice(["\udcff\udcfe\x00\x07garbage\udc80\n\n",      # binary garbage between games,
                           "\udc8b\x08\x00\udcc3(\n\udcff\n\n\n"]) + text   # alone in its block
    return text


def _reference_filter(path, caps, replay_every=0):
    """The filter's rules applied to the reference reader's games, whole file at once.

    The first game that fits a cap and every ``replay_every``-th after it (in file order) is
    replayed, and every one while an illegal game found extends the sample to ``MIN_SAMPLE``;
    one with an illegal move is dropped.
    """
    with open_binary(path) as fh:
        data = fh.read().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    games = list(games_of_blocks(decoded_blocks(data, 1)))
    kept = {cap: [] for cap in caps}
    dropped, examples, players = {}, {}, {cap: set() for cap in caps}
    fitting = replayed = extra = 0  # extra: games still to replay after an illegal one (MIN_SAMPLE)
    for g in games:
        reason = game_drop_reason(g)
        why = drop_why(g, reason)
        if not reason and replay_every and max(int(g.tags["WhiteElo"]), int(g.tags["BlackElo"])) <= caps[-1]:
            fitting += 1
            if (fitting - 1) % replay_every == 0 or extra:
                extra = max(extra - 1, 0)
                replayed += 1
                if why := illegal_move(g.movetext):
                    reason = "illegal"
                    extra = max(extra, MIN_SAMPLE - replayed)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            examples.setdefault(reason, f"{path}: line {g.line}: {why}")
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
    text = "".join(_odd_game(rng, i) for i in range(500))
    if seed % 2:
        text = text.replace("\n", "\r\n")
    if seed % 3 == 0:
        text = text.rstrip("\n")                                    # no newline at the very end
    path = tmp_path / "odd.pgn.zst"
    write_zst(path, text)
    caps = [1000, 1500]
    replay_every = [1, 3, 0][seed % 3]
    read, kept, dropped, examples, players = _reference_filter(path, caps, replay_every)
    assert sum(dropped.values()) > 20 and len(dropped) >= 7          # the dump exercises the rules
    assert {"not_utf8", "binary"} <= set(dropped) and ("illegal" in dropped) == bool(replay_every)
    for chunk in (97, 4096, 1 << 22):
        outs = {cap: tmp_path / f"c{chunk}-{cap}.pgn" for cap in caps}
        stats = filter_dump(path, outs, tmp_path / f"s{chunk}.json", log=io.StringIO(), chunk=chunk,
                            max_bad_share=1.0, replay_every=replay_every)
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


def _scarred_dump(path, good: int = 500) -> str:
    """``good`` plain games with, among them, one Latin-1 header, one Latin-1 comment in the
    moves, a run of binary garbage between two games and one as the last thing in the file."""
    games = [game(str(500 + i % 500), "900") for i in range(good)]
    games[0] = game("900", "900", White="Zo\udceb")                     # the very first game, a chunk's first
    games[good // 3] = game("900", "900", moves="1. e4 { Zo\udceb } e5")  # in the movetext
    games[2 * good // 3] = "\udcff\udcfe\x00\x01\x02garbage\udc80\udc81\n\n" + games[2 * good // 3]  # between two
    write_zst(path, "".join(games) + "\x00\udcff\udcfe binary tail")
    return "".join(games)


@pytest.mark.parametrize("chunk", [97, 4096, 1 << 22])
def test_bytes_that_are_not_utf8_cost_their_games_not_the_dump(tmp_path, chunk):
    path = tmp_path / "scarred.pgn.zst"
    _scarred_dump(path)
    out = tmp_path / "o.pgn"
    stats = filter_dump(path, {1000: out}, tmp_path / "s.json", log=io.StringIO(), chunk=chunk)
    assert stats["games_read"] == 502                                    # 4 bad: 0.8%, under the default 1%
    assert stats["dropped"] == {"binary": 2, "not_utf8": 2}
    assert stats["kept_per_cap"] == {"1000": 498}
    assert stats["dropped_examples"]["not_utf8"] == f"{path}: line 1: not UTF-8 text at line 2 (byte 0xeb)"
    assert stats["dropped_examples"]["binary"].startswith(f"{path}: line {333 * 9 + 1}: not UTF-8 text")
    assert len(list(iter_games(out))) == 498
    assert json.loads((tmp_path / "s.json").read_text()) == stats


def test_too_many_games_that_are_not_text_fail_the_dump_naming_the_key(tmp_path):
    path = tmp_path / "scarred.pgn"
    _scarred_dump(tmp_path / "scarred.pgn.zst", good=100)                 # 4 bad of 102: 3.9%
    path.write_bytes(zstandard.ZstdDecompressor().decompress((tmp_path / "scarred.pgn.zst").read_bytes(),
                                                              max_output_size=1 << 24))
    log = io.StringIO()
    with pytest.raises(DumpError, match=r"scarred.pgn: 4 of 102 games \(3.92%\) are not UTF-8 text "
                                        r"\(first: .*line 2 \(byte 0xeb\)\).*filter.max_bad_share = 0.01"):
        filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=log)
    assert not (tmp_path / "o.pgn").exists() and not (tmp_path / "s.json").exists()
    assert '"not_utf8": 2' in log.getvalue()                            # the statistics, in the log
    stats = filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=log, max_bad_share=0.05)
    assert stats["kept_per_cap"] == {"1000": 98}


def test_sampled_games_with_illegal_moves_are_dropped_and_counted(tmp_path):
    games = [game("900", "900") for _ in range(40)]
    for i in (3, 6, 8):                                                  # the 4th, 7th and 9th game
        games[i] = game("900", "900", moves="1. e4 e5 2. Ke3 Nc6")
    path = tmp_path / "illegal.pgn"
    path.write_text("".join(games))
    stats = filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=io.StringIO(),
                        replay_every=3, max_bad_share=1.0)
    # Games 1 and 4 replayed, then (4 was illegal: the sample extends to 200) every one after it.
    assert stats["dropped"] == {"illegal": 3}
    assert stats["legality"] == {"replay_every": 3, "replayed": 38, "illegal": 3, "replayed_after_illegal": 24}
    assert stats["dropped_examples"]["illegal"].startswith(f"{path}: line 28: ply 3 (2.Ke3) is not legal")
    assert stats["kept_per_cap"] == {"1000": 37}
    every = filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=io.StringIO(),
                        replay_every=1, max_bad_share=1.0)
    assert every["dropped"] == {"illegal": 3} and every["kept_per_cap"] == {"1000": 37}
    with pytest.raises(DumpError, match=r"3 of the 40 games replayed \(7.50%\) have an illegal move"):
        filter_dump(path, {1000: tmp_path / "o.pgn"}, tmp_path / "s.json", log=io.StringIO(), replay_every=1)


@pytest.mark.parametrize("chunk", [97, 1 << 22])
def test_a_dump_whose_first_game_is_illegal_is_judged_on_a_sample_that_can_support_it(tmp_path, chunk):
    """The sample replays the first game kept and every 10000th: a dump whose first game was
    illegal failed as a whole (1 of 1 replayed, 100% > 1%), though 1 game in 603 was. An
    illegal game found extends the sample to 200 games (or to the dump's end): the share is
    decided on those, and a legal dump's sample and statistics are what they were."""
    bad = "1. e4 e5 2. Ke3 Nc6"
    path, out, stats_path = tmp_path / "d.pgn", {1000: tmp_path / "o.pgn"}, tmp_path / "s.json"

    def run(games: list[str]) -> dict:
        path.write_text("".join(games))
        return filter_dump(path, out, stats_path, log=io.StringIO(), chunk=chunk, replay_every=10000)

    games = [game("900", "900") for _ in range(603)]
    legal = run(games)
    assert legal["legality"] == {"replay_every": 10000, "replayed": 1, "illegal": 0}
    games[0] = game("900", "900", moves=bad)
    stats = run(games)
    assert stats["dropped"] == {"illegal": 1} and stats["kept_per_cap"] == {"1000": 602}
    assert stats["legality"] == {"replay_every": 10000, "replayed": 200, "illegal": 1, "replayed_after_illegal": 199}
    assert out[1000].read_text() == "".join(games[1:])
    games[150] = games[199] = game("900", "900", moves=bad)  # 3 of the 200 replayed: 1.5% > 1%
    with pytest.raises(DumpError, match=r"3 of the 200 games replayed \(1.50%\) have an illegal move"):
        run(games)
    games[150] = games[199] = game("900", "900", moves=bad.replace("Ke3", "Nf3"))
    games[400] = game("900", "900", moves=bad)  # outside the extended sample: kept unchecked
    assert run(games)["kept_per_cap"] == {"1000": 602}
    small = [game("900", "900", moves=bad)] + [game("900", "900") for _ in range(49)]
    with pytest.raises(DumpError, match=r"1 of the 50 games replayed \(2.00%\)"):  # every game of it replayed
        run(small)


def test_a_file_without_games_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "blob.pgn"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(DumpError, match="blob.pgn: no game starts"):
        list(iter_chunks(path, chunk=16, max_game=1000))


@pytest.mark.parametrize("chunk", [1 << 22, 200])
def test_a_rating_of_unicode_digits_is_a_dropped_counted_game_not_a_crash(tmp_path, chunk):
    """``"²".isdigit()`` is True and ``int("²")`` raises; ``int("٩٠٠")`` is 900 (Arabic-Indic
    digits): neither is a rating a PGN writes, so each costs its game, counted with an example."""
    games = [game("900", "900"), game("²", "900"), game("900", "٩٠٠"), game("９００", "900"),
             game("?", "900"), game("800", "800")]
    path = tmp_path / "unicode.pgn.zst"
    write_zst(path, "".join(games))
    stats = filter_dump(path, {1000: tmp_path / "o.pgn.zst"}, tmp_path / "s.json", log=io.StringIO(), chunk=chunk)
    assert stats["games_read"] == 6 and stats["kept_per_cap"] == {"1000": 2}
    assert stats["dropped"] == {"bad_rating": 3, "unrated": 1}
    assert stats["dropped_examples"]["bad_rating"] == (
        f'{path}: line 10: WhiteElo "²", BlackElo "900": a rating is ASCII digits')
    assert [g.tags["WhiteElo"] for g in iter_games(tmp_path / "o.pgn.zst")] == ["900", "800"]

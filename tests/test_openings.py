"""Opening suites (issue 27): the config's suite, the random and held-out draws, the file.

Playing a shard from the openings (pairs, colours, the start suite's bytes, resuming):
tests/test_evaluate.py.
"""

from __future__ import annotations

import io
import json
import random

import chess
import pytest
import yaml

from transcendence.config_check import ConfigError, check_config, cross_key_problems
from transcendence.data.board_positions import build_positions, val_games
from transcendence.data.held_out import text_val_games
from transcendence.families import family_named
from transcendence.data.packing import build_dataset
from transcendence.pgn.text import format_pgn, sans_to_text
from transcendence.play.openings import (Opening, OpeningSuite, build_openings, held_out_openings, load_openings,
                                         random_attempt_seed, random_line, random_openings)
from transcendence.sweep_conditions import SWEEP_KEY, condition_configs

from .conftest import ROOT, snakemake
from .helpers import pack_blocks, random_game

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SMOKE = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


# -- the config's suite ----------------------------------------------------------------------

def test_the_suite_parses_once_into_a_typed_value():
    assert OpeningSuite.from_config(None) == OpeningSuite() == OpeningSuite.from_config({"suite": "start"})
    assert OpeningSuite().is_start and OpeningSuite().to_config() == {"suite": "start"}
    held = OpeningSuite.from_config({"suite": "held_out", "plies": 8})
    assert (held.suite, held.plies, held.is_start) == ("held_out", 8, False)
    assert held.to_config() == {"suite": "held_out", "plies": 8} and str(held) == "held_out, 8 plies"
    assert OpeningSuite.from_config({"suite": "random", "plies": 1}) == OpeningSuite("random", 1)
    with pytest.raises(AttributeError):
        held.plies = 9  # frozen


@pytest.mark.parametrize("value, message", [
    ({"suite": "book"}, "evaluate.openings.suite: 'book' is not one of start, held_out, random"),
    ({"suite": "random", "plies": 0}, "evaluate.openings.plies: suite random needs plies, an integer >= 1"),
    ({"suite": "held_out", "plies": -3}, "needs plies, an integer >= 1"),
    ({"suite": "held_out"}, "suite held_out needs plies"),
    ({"suite": "random", "plies": 2.5}, "needs plies"),
    ({"suite": "random", "plies": True}, "needs plies"),
    ({"suite": "start", "plies": 8}, "suite start plays from the initial position"),
    ({"plies": 8}, "suite is missing"),
    ({"suite": "random", "plies": 8, "depth": 2}, "unknown key(s) 'depth'"),
    ("random", "expected a mapping"),
])
def test_a_bad_suite_is_refused_naming_the_key(value, message):
    with pytest.raises(ValueError, match="^evaluate.openings") as info:
        OpeningSuite.from_config(value)
    assert message in str(info.value)


def _with_openings(openings, **evaluate):
    return dict(SMOKE, evaluate=dict(SMOKE["evaluate"], openings=openings, **evaluate))


def test_the_start_up_check_refuses_bad_suites_and_unpaired_games():
    assert cross_key_problems(_with_openings({"suite": "random", "plies": 4}, games=4)) == []
    assert cross_key_problems(_with_openings({"suite": "start"}, games=3)) == []  # the paper's: any number
    assert cross_key_problems(dict(SMOKE, evaluate=dict(SMOKE["evaluate"], games=3))) == []
    problems = cross_key_problems(_with_openings({"suite": "held_out", "plies": 8}, games=3))
    assert problems == ["evaluate.games (3) must be even with evaluate.openings.suite held_out: each opening "
                        "is played twice, the model White in one game and Black in the other"]
    # The schema's messages first (each with the key's description), then the parser's.
    for openings, message in [
        ({"suite": "random", "plies": 0}, "evaluate.openings.plies: 0 is less than the minimum of 1"),
        ({"suite": "book", "plies": 2}, "evaluate.openings.suite: 'book' is not one of"),
        ({"suite": "random", "depth": 2}, "evaluate.openings: unknown key 'depth'; allowed: plies, suite"),
        ({"suite": "start", "plies": 2}, "evaluate.openings.plies: suite start plays from the initial position"),
        ({"suite": "random"}, "evaluate.openings.plies: suite random needs plies, an integer >= 1"),
    ]:
        with pytest.raises(ConfigError) as info:
            check_config(_with_openings(openings, games=4), SCHEMA, engine=False)
        assert message in str(info.value) and len(str(info.value).splitlines()) == 2, str(info.value)
    # What the schema alone lets through, the parser still refuses.
    assert cross_key_problems(_with_openings({"suite": "book"})) == [
        "evaluate.openings.suite: 'book' is not one of start, held_out, random"]


def test_odd_games_with_a_suite_stop_snakemake_before_any_job(tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(_with_openings({"suite": "random", "plies": 4}, games=5)))
    proc = snakemake("--cores", "1", "--configfile", str(path), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "evaluate.games (5) must be even" in out, out[-3000:]
    assert "Job stats" not in out and not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_every_config_file_still_validates_and_says_its_suite(name):
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    configs = condition_configs(config, SCHEMA, engine=False) if SWEEP_KEY in config else {name: config}
    for merged in configs.values():
        check_config(merged, SCHEMA, engine=False)
        OpeningSuite.from_config(merged["evaluate"].get("openings"))
    if name in ("config.yaml", "paper.yaml"):  # the paper's protocol, said explicitly
        assert config["evaluate"]["openings"] == {"suite": "start"}


def test_the_openings_sweep_is_the_default_at_cap_400_under_two_suites():
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sweep = yaml.safe_load((ROOT / "config" / "openings.yaml").read_text())
    conditions = condition_configs(sweep, SCHEMA, engine=False)
    assert {c: OpeningSuite.from_config(cfg["evaluate"]["openings"]) for c, cfg in conditions.items()} == {
        "held_out": OpeningSuite("held_out", 8), "random": OpeningSuite("random", 8)}
    expected = json.loads(json.dumps(default))
    expected["caps"] = [400]
    expected["evaluate"]["temperatures"] = [0.001, 1.0]
    for key in ("favor", "tsne", "reward"):
        expected[key]["caps"] = []
    for cfg in conditions.values():
        cfg = json.loads(json.dumps(cfg))
        cfg["evaluate"]["openings"] = {"suite": "start"}
        assert cfg == expected
    assert sweep["evaluate"]["games"] % 2 == 0


# -- random openings ---------------------------------------------------------------------------

def _replays(opening: Opening) -> chess.Board:
    board = chess.Board()
    for move in opening.uci:
        parsed = chess.Move.from_uci(move)
        assert parsed in board.legal_moves, (opening, move)
        board.push(parsed)
    return board


def test_random_openings_are_legal_seeded_and_the_same_for_every_cap(tmp_path):
    drawn = [o for o, _ in random_openings(30, 6, seed=11)]
    assert [o.index for o in drawn] == list(range(30))
    for opening in drawn:
        assert len(opening.uci) == 6 and not _replays(opening).is_game_over()
    assert [o for o, _ in random_openings(30, 6, seed=11)] == drawn
    other = [o for o, _ in random_openings(30, 6, seed=12)]
    assert sum(a.uci != b.uci for a, b in zip(drawn, other)) > 25
    assert len({o.uci for o in drawn}) == 30
    assert [o for o, _ in random_openings(10, 6, seed=11)] == drawn[:10]  # a longer suite extends a shorter one
    suite = OpeningSuite("random", 6)
    a = build_openings(tmp_path / "a.json", suite, count=5, seed=11, cap=400)
    b = build_openings(tmp_path / "b.json", suite, count=5, seed=11, cap=800)
    assert [o["uci"] for o in a["openings"]] == [o["uci"] for o in b["openings"]] == [list(o.uci) for o in drawn[:5]]


def test_a_random_opening_that_ends_the_game_is_drawn_again():
    """200 random plies often end a random game (mate, stalemate, bare kings): such a draw is
    replaced by the next attempt's, and every attempt before the kept one did end the game."""
    drawn = random_openings(6, 200, seed=3)
    redrawn = [(o, attempt) for o, attempt in drawn if attempt > 0]
    assert redrawn, "no opening needed a redraw: the test shows nothing"
    for opening, attempt in drawn:
        assert len(opening.uci) == 200 and not _replays(opening).is_game_over(claim_draw=False)
        assert random_line(200, random_attempt_seed(3, 200, opening.index, attempt)) == opening.uci
        for earlier in range(attempt):
            assert random_line(200, random_attempt_seed(3, 200, opening.index, earlier)) is None


def test_random_line_refuses_a_finished_game():
    """Fool's mate ends the game: a line ending there, or passing through it, is no opening."""
    class Scripted(random.Random):
        def __init__(self, moves):
            super().__init__(0)
            self.moves = list(moves)

        def choice(self, seq):
            want = self.moves.pop(0)
            return next(m for m in seq if m.uci() == want)

    fools_mate = ["f2f3", "e7e5", "g2g4", "d8h4", "a2a3"]
    assert random_line(4, Scripted(fools_mate)) is None
    assert random_line(5, Scripted(fools_mate)) is None
    assert random_line(3, Scripted(fools_mate)) == ("f2f3", "e7e5", "g2g4")


# -- held-out openings --------------------------------------------------------------------------

def _write_dump(path, rng: random.Random, games: int) -> list[list[str]]:
    """A tiny dump: random games of 3 to 40 plies (some shorter than an opening and a move)."""
    text, all_sans = "", []
    for _ in range(games):
        sans = random_game(rng, rng.randint(3, 40))
        all_sans.append(sans)
        headers = {"Event": "test", "White": "eps0.875", "Black": "eps0.75", "Result": "*",
                   "WhiteElo": "200", "BlackElo": "360"}
        text += format_pgn(headers, sans, "*")
    path.write_text(text)
    return all_sans


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two small dumps with the board and the text datasets built from them."""
    folder = tmp_path_factory.mktemp("openings-data")
    rng = random.Random(7)
    paths = [folder / "d0.pgn", folder / "d1.pgn"]
    games = [_write_dump(paths[0], rng, 40), _write_dump(paths[1], rng, 30)]
    board_meta = build_positions(paths, folder / "train.pos", folder / "val.pos", folder / "board-meta.json",
                                 val_fraction=0.3, seed=17)
    text_meta = build_dataset(paths, folder / "train.bin", folder / "val.bin", folder / "text-meta.json",
                              block_size=128, val_fraction=0.3, seed=17, shuffle_bucket_mb=1.0, log=io.StringIO())
    return folder, paths, games, board_meta, text_meta


def test_held_out_openings_come_from_distinct_val_games_only(data, tmp_path):
    folder, paths, games, meta, _ = data
    plies = 6
    val = {(str(paths[d]), index): sans for d, index, sans in val_games(paths, val_fraction=0.3, seed=17)}
    eligible = {k for k, sans in val.items() if len(sans) > plies}
    train_long = [(d, i) for d, dump in enumerate(games) for i, sans in enumerate(dump)
                  if (str(paths[d]), i) not in val and len(sans) > plies]
    assert len(eligible) >= 8 and train_long, "the test needs long games on both sides of the split"
    source, held = family_named("board").held_out_games(dumps=paths, val=None, meta=meta, val_fraction=0.3, seed=17,
                                  first_plies=plies + 1)
    doc = build_openings(tmp_path / "o.json", OpeningSuite("held_out", plies), count=8, seed=5, cap=400,
                         held_out=held, source=source)
    picked = [(o["dump"], o["game"]) for o in doc["openings"]]
    assert len(set(picked)) == 8 and set(picked) <= eligible  # distinct val games, each long enough
    for entry in doc["openings"]:
        board, sans = chess.Board(), val[(entry["dump"], entry["game"])]
        assert [board.push_san(san).uci() for san in sans[:plies]] == entry["uci"]
    assert doc["source"]["val_games"] == meta["val_games"] and doc["source"]["long_enough"] == len(eligible)
    assert (doc["suite"], doc["plies"], doc["seed"], doc["cap"], doc["count"]) == ("held_out", plies, 5, 400, 8)
    loaded = load_openings(tmp_path / "o.json")
    assert [list(o.uci) for o in loaded.openings] == [e["uci"] for e in doc["openings"]]
    assert loaded.suite == OpeningSuite("held_out", plies) and len(loaded.sha256) == 64
    # Seeded: the same seed the same draw, a smaller suite a prefix of it, another seed another draw.
    listed = [({"dump": d, "game": i}, sans) for (d, i), sans in val.items()]
    again = held_out_openings(listed, 8, plies, 5, where="cap 400")[0]
    assert [(o.uci, src) for o, src in again] == [(tuple(e["uci"]), {"dump": e["dump"], "game": e["game"]})
                                                  for e in doc["openings"]]
    fewer = held_out_openings(listed, 3, plies, 5, where="cap 400")[0]
    assert [o.uci for o, _ in fewer] == [o.uci for o, _ in again[:3]]
    other = held_out_openings(listed, 8, plies, 6, where="cap 400")[0]
    assert [o.uci for o, _ in other] != [o.uci for o, _ in again]


def test_too_few_held_out_games_is_an_error_naming_the_cap_and_the_numbers(data, tmp_path):
    _, paths, _, meta, _ = data
    source, held = family_named("board").held_out_games(dumps=paths, val=None, meta=meta, val_fraction=0.3, seed=17)
    with pytest.raises(ValueError, match=r"cap 1300: \d+ of its \d+ held-out \(val\) games have at least 31 legal "
                                         r"plies .* needs 200 distinct ones"):
        build_openings(tmp_path / "o.json", OpeningSuite("held_out", 30), count=200, seed=5, cap=1300,
                       held_out=held, source=source)
    assert not (tmp_path / "o.json").exists()


def test_an_illegal_or_finished_game_is_never_an_opening():
    mate = ["f3", "e5", "g4", "Qh4#", "a3"]            # the opening of 4 plies is a finished game
    illegal = ["e4", "e5", "Ke3", "Nc6", "d4"]       # an illegal move inside the opening
    sound = ["e4", "e5", "Nf3", "Nc6", "Bb5"]
    drawn, counts = held_out_openings([({"g": 0}, mate), ({"g": 1}, illegal), ({"g": 2}, sound)], 1, 4, 0, where="t")
    assert [(o.uci, src) for o, src in drawn] == [(("e2e4", "e7e5", "g1f3", "b8c6"), {"g": 2})]
    assert counts == {"val_games": 3, "long_enough": 3, "rejected": 2}
    with pytest.raises(ValueError, match="1 of its 3 held-out"):
        held_out_openings([({"g": 0}, mate), ({"g": 1}, illegal), ({"g": 2}, sound)], 2, 4, 0, where="t")


def test_a_dataset_built_from_other_data_is_refused(data, tmp_path):
    _, paths, _, meta, text_meta = data
    source, held = family_named("board").held_out_games(dumps=paths, val=None, meta={**meta, "val_games": meta["val_games"] + 1},
                                  val_fraction=0.3, seed=17)
    with pytest.raises(ValueError, match="the dataset's meta.json says it held out"):
        list(held)


def test_the_text_familys_val_file_decodes_to_its_games(tmp_path):
    """Packed blocks back to games, in order: each whole game as it was, a game cut at its
    block's end a legal prefix of itself (its maybe-cut last move dropped)."""
    rng = random.Random(1)
    games = [random_game(rng, rng.randint(1, 14)) for _ in range(60)]  # some longer than a block
    texts = [sans_to_text(g) for g in games]
    blocks, truncated = pack_blocks(texts, 64)
    assert truncated > 0
    path = tmp_path / "val.bin"
    path.write_bytes(blocks.tobytes())
    decoded = [sans for _, sans in text_val_games(path, 64)]
    assert len(decoded) == len(games)
    exact = 0
    for game, text, got in zip(games, texts, decoded):
        assert got == game[:len(got)]
        if len(text) <= 64:
            assert len(got) >= len(game) - 1
        exact += got == game
    assert exact > len(games) // 2
    assert [s for _, s in text_val_games(path, 64, first_plies=3)] == [s[:3] for s in decoded]


def test_text_held_out_openings_come_from_the_packed_val_split(data, tmp_path):
    folder, paths, games, _, meta = data
    source, held = family_named("text").held_out_games(dumps=paths, val=folder / "val.bin", meta=meta, val_fraction=0.3,
                                  seed=17, first_plies=5)
    doc = build_openings(tmp_path / "o.json", OpeningSuite("held_out", 4), count=5, seed=2, cap=400,
                         held_out=held, source=source)
    assert doc["source"]["val_games"] == meta["val"]["games"] and doc["source"]["family"] == "text"
    val = [sans for _, sans in text_val_games(folder / "val.bin", 128)]
    for entry in doc["openings"]:
        sans = val[entry["val_game"]]
        board = chess.Board()
        assert [board.push_san(s).uci() for s in sans[:4]] == entry["uci"]
    # The packed val split is whole games of the dumps (the shuffle moved them).
    every = {sans_to_text(g) for dump in games for g in dump}
    assert all(sans_to_text(s) in every or any(t.startswith(sans_to_text(s)) for t in every) for s in val)
    _, wrong = family_named("text").held_out_games(dumps=paths, val=folder / "val.bin",
                              meta={**meta, "val": {**meta["val"], "games": meta["val"]["games"] - 1}},
                              val_fraction=0.3, seed=17)
    with pytest.raises(ValueError, match="the dataset's meta.json says it held out"):
        list(wrong)


# -- the file ----------------------------------------------------------------------------------

def test_the_file_holds_uci_and_san_and_loads_checked(tmp_path):
    path = tmp_path / "o.json"
    doc = build_openings(path, OpeningSuite("random", 4), count=3, seed=9, cap=400)
    assert json.loads(path.read_text()) == doc
    first = doc["openings"][0]
    assert set(first) == {"index", "uci", "san", "attempt"}
    board, sans = chess.Board(), []
    for move in first["uci"]:
        sans.append(board.san(chess.Move.from_uci(move)))
        board.push_uci(move)
    assert first["san"] == f"1. {sans[0]} {sans[1]} 2. {sans[2]} {sans[3]}"
    loaded = load_openings(path)
    assert loaded.for_game(0) == loaded.for_game(1) == loaded.openings[0] and loaded.for_game(5) == loaded.openings[2]
    assert loaded.fingerprint() == {"suite": "random", "plies": 4, "sha256": loaded.sha256}
    with pytest.raises(ValueError, match="evaluate.games must be even"):
        loaded.check_games(5)
    with pytest.raises(ValueError, match="8 games need 4 openings; the suite holds 3"):
        loaded.check_games(8)
    loaded.check_games(6)
    bad = dict(doc, openings=[dict(first, uci=["e2e4", "e2e4", "d7d5", "d2d4"])])
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="opening 0 .* is not legal"):
        load_openings(path)
    path.write_text(json.dumps(dict(doc, plies=5)))
    with pytest.raises(ValueError, match="not opening 0 of 5 plies"):
        load_openings(path)
    with pytest.raises(ValueError, match="suite start has no openings file"):
        build_openings(path, OpeningSuite(), count=3, seed=9, cap=400)

"""The engine limit: parsed once, the same ``go`` commands and deadlines as before, the same
text in every output; and the board example's engine values on the project's client."""

from __future__ import annotations

import json
import random

import chess
import chess.engine
import pytest

from transcendence.analysis.board_example import engine_values
from transcendence.engine.limit import EngineLimit
from transcendence.engine.move_values import cache_key
from transcendence.engine.pool import EnginePool
from transcendence.engine.uci import UciEngine, find_engine

from .test_board import random_game_sans

CONFIG_LIMITS = [{"depth": 10}, {"nodes": 5000}, {"time": 1}, {"time": 0.25}]


def test_parse_sets_the_one_field_of_the_config_mapping():
    assert EngineLimit.parse({"depth": 3}) == EngineLimit(depth=3)
    assert EngineLimit.parse({"nodes": 500}) == EngineLimit(nodes=500)
    assert EngineLimit.parse({"time": 0.1}) == EngineLimit(time=0.1)
    limit = EngineLimit(depth=3)
    assert EngineLimit.parse(limit) is limit
    assert (limit.kind, limit.value) == ("depth", 3)


def test_go_command_limits():
    assert EngineLimit(depth=3).go_command() == "go depth 3"
    assert EngineLimit(nodes=500).go_command() == "go nodes 500"
    assert EngineLimit(time=0.1).go_command() == "go movetime 100"
    assert EngineLimit(time=0.0001).go_command() == "go movetime 1"  # never 0: "search forever" to some engines


@pytest.mark.parametrize("limit,message", [
    ({"depth": 1, "nodes": 2}, "exactly one of depth, nodes, time"),
    ({}, "exactly one of depth, nodes, time"),
    ({"movetime": 100}, "unknown engine limit 'movetime'"),
    ({"depth": "10"}, "depth must be a finite number; got '10'"),
    ({"depth": True}, "depth must be a finite number"),
    ({"time": float("nan")}, "time must be a finite number"),
    ({"depth": 2.5}, "depth must be a whole number; got 2.5"),
    ({"nodes": 0}, "nodes must be positive; got 0"),
    ({"time": -1}, "time must be positive"),
    ([("depth", 1)], "must be a mapping like {depth: 10}"),
])
def test_a_wrong_limit_fails_naming_what_is_wrong(limit, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("(", r"\(")):
        EngineLimit.parse(limit)


def test_two_fields_fail_when_built_directly_too():
    with pytest.raises(ValueError, match="exactly one"):
        EngineLimit(depth=1, time=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        EngineLimit()


def test_search_timeout_is_the_bound_the_client_always_used():
    assert EngineLimit(time=2).search_timeout(margin=30) == 32.0
    assert EngineLimit(nodes=40_000).search_timeout(margin=30) == 32.0
    assert EngineLimit(depth=10).search_timeout(margin=30) == pytest.approx(0.001 * 1.8 ** 10 + 30)
    assert EngineLimit(depth=10).search_timeout(margin=0, multipv=20) == pytest.approx(20 * 0.001 * 1.8 ** 10)
    assert EngineLimit(time=2).search_timeout(margin=0, multipv=20) == 2.0  # a time limit bounds all lines


@pytest.mark.parametrize("config", CONFIG_LIMITS)
def test_to_config_writes_exactly_the_config_text(config):
    """JSON, str() (the Markdown and the logs) and value types are those of the config's mapping."""
    written = EngineLimit.parse(config).to_config()
    assert json.dumps(written) == json.dumps(config) and str(written) == str(config)
    assert [type(v) for v in written.values()] == [type(v) for v in config.values()]


def test_cache_keys_are_those_of_the_dict_limits():
    """Computed by the dict-based cache_key before EngineLimit: cached values stay found."""
    expected = {"depth": "6e609288159f0fce271e2839f904c34f", "nodes": "41b9e81872b95c25124690d1c5409b5f"}
    for config in ({"depth": 6}, {"nodes": 5000}):
        for limit in (config, EngineLimit.parse(config)):
            assert cache_key(chess.STARTING_FEN, limit, "Stockfish 15.1") == expected[next(iter(config))]
    assert cache_key(chess.STARTING_FEN, {"time": 1}, "Stockfish 15.1") == "a0bb354b0f8dea6ca68af1edac2cd1ed"
    assert cache_key(chess.STARTING_FEN, {"time": 0.25}, "Stockfish 15.1") == "fa37d7d69f6707ab7caa09354cec389d"


def test_client_and_pool_take_a_limit_or_the_config_mapping():
    with UciEngine("stockfish") as engine:
        assert engine.best_move(["e2e4"], EngineLimit(depth=2)) == engine.best_move(["e2e4"], {"depth": 2})
        with pytest.raises(ValueError, match="depth must be positive"):
            engine.analyse(chess.STARTING_FEN, {"depth": 0})
    with EnginePool("stockfish", {}, workers=1) as pool:
        assert pool.submit([], {"depth": 1}).result()[0] == pool.submit([], EngineLimit(depth=1)).result()[0]
        with pytest.raises(ValueError, match="unknown engine limit"):  # in the caller, not in a future
            pool.submit([], {"plies": 1})


def test_board_example_values_equal_those_of_python_chess_simple_engine():
    """The board example's former engine path, python-chess's SimpleEngine searching the
    positions in turn, and the project's client give the same value to every move, so
    results/analysis/board.* do not change with the client. Several positions, since from
    the second on a search depends on the hash its predecessors left."""
    rng = random.Random(1)
    boards = [chess.Board() for _ in range(6)]
    for board in boards:  # with their moves, as the board example's boards: SimpleEngine sends them
        for san in random_game_sans(rng, rng.randint(2, 14)):
            board.push_san(san)
    depth = 8
    old = []
    with chess.engine.SimpleEngine.popen_uci(find_engine("stockfish")) as sf:
        for board in boards:  # the code the board example ran before it used UciEngine
            infos = sf.analyse(board, chess.engine.Limit(depth=depth), multipv=board.legal_moves.count())
            old.append({info["pv"][0]: info["score"].pov(board.turn).wdl(model="lichess").expectation()
                        for info in infos if info.get("pv")})
        old_name = sf.id.get("name", "stockfish")
    name, new = engine_values(boards, "stockfish", EngineLimit(depth=depth))
    assert name == old_name
    for board, was, now in zip(boards, old, new):
        assert len(now) == board.legal_moves.count()
        assert now == was, board.fen()

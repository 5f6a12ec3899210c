"""The synthetic population: real Stockfish games, deterministic for a seed."""

from __future__ import annotations

import random

import chess
import pytest

from transcendence.pgn.stream import iter_games
from transcendence.pgn.text import movetext_to_text, replay
from transcendence.data.synthetic import choose_move, generate_shard
from transcendence.engine.uci import EngineError, UciEngine, find_engine
from transcendence.players.config import synthetic_players
from transcendence.players.mistakes import MistakeRule, own_mistake
from transcendence.players.player import Player

D1 = {"depth": 1}
PLAYERS = [Player("weak", 100, D1, eps=0.9), Player("strong", 900, D1, eps=0.1)]


def shard(tmp_path, name: str, seed: int):
    out = tmp_path / f"{name}.pgn.zst"
    summary = generate_shard(out, PLAYERS, 6, seed=seed, shard=0, engine_path="stockfish", max_plies=60)
    return out, summary


def test_games_are_legal_lichess_format_and_deterministic(tmp_path):
    a, summary = shard(tmp_path, "a", 1)
    b, _ = shard(tmp_path, "b", 1)
    c, _ = shard(tmp_path, "c", 2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert summary["engine"].startswith("Stockfish")
    games = list(iter_games(a))
    assert len(games) == 6
    for g in games:
        assert {g.tags["WhiteElo"], g.tags["BlackElo"]} == {"100", "900"}
        board = replay(movetext_to_text(g.movetext))
        if g.tags["Termination"] == "Normal":
            assert board.is_game_over() and board.result() == g.tags["Result"]
        else:
            assert g.tags["Result"] == "1/2-1/2" and len(board.move_stack) == 60


def test_eps_one_is_a_random_mover_and_eps_zero_is_the_engine():
    board = chess.Board()
    with UciEngine("stockfish") as engine:
        engine_move = chess.Move.from_uci(engine.best_move([], {"depth": 1}))
        assert choose_move(Player("e", 0, D1, eps=0.0), board, random.Random(0), engine, []) == engine_move
        picks = {choose_move(Player("r", 0, D1, eps=1.0), board, random.Random(i), None, []) for i in range(60)}
    assert len(picks) > 10 and picks <= set(board.legal_moves)


def test_missing_engine_is_a_clear_error():
    with pytest.raises(EngineError, match="not found.*apt-get install stockfish"):
        find_engine("no-such-engine-here")


def test_engine_that_dies_is_restarted():
    with UciEngine("stockfish") as engine:
        engine._proc.kill()
        engine._proc.wait()
        move = engine.best_move(["e2e4"], {"depth": 1})
        assert chess.Move.from_uci(move) in chess.Board("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1").legal_moves
        assert engine.restarts == 1


def _position_with_captures() -> chess.Board:
    board = chess.Board()
    for san in ["e4", "d5", "Nc3", "Nf6", "Bc4", "Nc6"]:
        board.push_san(san)
    return board


@pytest.mark.parametrize("persona,kind", [
    ("captures", lambda b, m: b.is_capture(m) or b.gives_check(m)),
    ("pawns", lambda b, m: b.piece_type_at(m.from_square) == chess.PAWN),
])
def test_personas_prefer_their_kind_of_move(persona, kind):
    board = _position_with_captures()
    moves = list(board.legal_moves)
    uniform_share = sum(kind(board, m) for m in moves) / len(moves)
    rng = random.Random(1)
    picks = [own_mistake(board, rng, persona) for _ in range(2000)]
    share = sum(kind(board, m) for m in picks) / len(picks)
    # Weight 4 on the preferred kind: share = 4k / (4k + (n - k)), well above k / n.
    expected = 4 * uniform_share / (4 * uniform_share + 1 - uniform_share)
    assert share == pytest.approx(expected, abs=0.04) and share > uniform_share + 0.1


def test_unknown_persona_and_share_are_errors():
    with pytest.raises(ValueError, match="unknown persona 'bold'"):
        synthetic_players([{"name": "a", "eps": 0.5, "elo": 1, "persona": "bold"}], D1, {"share": 0.0}, 1)
    with pytest.raises(ValueError, match=r"share must lie in \[0, 1\]"):
        synthetic_players([{"name": "a", "eps": 0.5, "elo": 1}], D1, {"share": 1.5}, 1)


@pytest.mark.parametrize("shared", ["network", "position_hash"])
def test_shared_mistakes_shard_is_deterministic(tmp_path, shared):
    rule = MistakeRule(share=1.0, shared=shared, seed=9)
    players = [Player(p.name, p.rating, p.limit, eps=p.eps, mistakes=rule) for p in PLAYERS]
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.pgn.zst"
        generate_shard(out, players, 4, seed=9, shard=0, engine_path="stockfish", max_plies=40)
        runs.append(out.read_bytes())
    assert runs[0] == runs[1]
    independent = tmp_path / "independent.pgn.zst"
    generate_shard(independent, PLAYERS, 4, seed=9, shard=0, engine_path="stockfish", max_plies=40)
    assert independent.read_bytes() != runs[0]

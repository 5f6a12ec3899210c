"""One player model for every stage: the mistake rules, the share knob, and the ideal learner."""

from __future__ import annotations

import random
from collections import Counter

import chess
import numpy as np
import pytest

from transcendence.analysis.ideal_learner import majority, mixture, mixture_weights, tempered
from transcendence.players.config import opponents, synthetic_players
from transcendence.players.mistakes import MistakeRule
from transcendence.engine.limit import EngineLimit
from transcendence.players.player import Player

D1 = {"depth": 1}


def positions(n: int, seed: int = 0) -> list[chess.Board]:
    """``n`` positions of random games (a varied, reproducible set)."""
    rng = random.Random(seed)
    out, board = [], chess.Board()
    while len(out) < n:
        if board.is_game_over():
            board = chess.Board()
        out.append(board.copy())
        board.push(rng.choice(list(board.legal_moves)))
    return out


@pytest.mark.parametrize("shared", ["network", "position_hash"])
def test_the_shared_move_is_a_function_of_the_board_alone_and_the_same_for_every_player(shared):
    rule = MistakeRule(share=1.0, shared=shared, seed=7)
    players = [Player("a", 0, D1, eps=1.0, mistakes=rule), Player("b", 0, D1, eps=0.5, persona="pawns", mistakes=rule),
               Player("c", 0, D1, eps=0.9, persona="captures", mistakes=rule)]
    for board in positions(30):
        expected = rule.shared_move(board)
        assert expected in board.legal_moves
        for i, p in enumerate(players):
            rng = random.Random(i)
            picks = {m for m in (p.mistake(board, rng) for _ in range(20)) if m is not None}
            assert picks == {expected}, (p.name, board.fen())
    # The same board reached by another move order: the same shared move.
    one, two = chess.Board(), chess.Board()
    for san in ("Nf3", "Nf6", "d4", "d5"):
        one.push_san(san)
    for san in ("d4", "d5", "Nf3", "Nf6"):
        two.push_san(san)
    assert rule.shared_move(one) == rule.shared_move(two)
    # Another seed is another function.
    other = MistakeRule(share=1.0, shared=shared, seed=8)
    assert sum(other.shared_move(b) != rule.shared_move(b) for b in positions(30)) > 5


def reference_independent(board: chess.Board, rng: random.Random, eps: float) -> chess.Move | None:
    """The paper's eps-player, written plainly: a uniform legal move with probability eps."""
    if rng.random() < eps:
        return rng.choice(list(board.legal_moves))
    return None


def test_share_zero_makes_exactly_the_draws_of_independent_mistakes():
    player = Player("p", 0, D1, eps=0.75, mistakes=MistakeRule(share=0.0, seed=3))
    for i, board in enumerate(positions(60)):
        a, b = random.Random(i), random.Random(i)
        for _ in range(5):
            assert player.mistake(board, a) == reference_independent(board, b, 0.75)
        assert a.random() == b.random()  # and leaves the generator where the reference leaves it


def test_share_one_makes_every_mistake_shared_and_a_share_between_mixes_them():
    board = positions(40)[-1]
    moves = list(board.legal_moves)
    full = MistakeRule(share=1.0, seed=3)
    half = MistakeRule(share=0.5, seed=3)
    shared = full.shared_move(board)
    rng = random.Random(0)
    assert {full.draw(board, rng, "uniform") for _ in range(50)} == {shared}
    draws = Counter(half.draw(board, rng, "uniform") for _ in range(20000))
    dist = half.distribution(board, "uniform")
    assert sum(dist.values()) == pytest.approx(1.0)
    assert dist[shared] == pytest.approx(0.5 + 0.5 / len(moves))
    for move in moves:  # the distribution is what the draws draw from
        assert draws[move] / 20000 == pytest.approx(dist[move], abs=0.015)


def test_an_opponent_named_like_a_synthetic_player_is_that_player():
    synthetic = [{"name": "eps0.75", "eps": 0.75, "elo": 360, "persona": "pawns"}]
    mistakes = {"share": 0.25, "shared": "network"}
    data, = synthetic_players(synthetic, D1, mistakes, 5)
    opponent, fixed = opponents([{"name": "eps0.75", "eps": 0.75, "limit": D1, "rating": 360},
                                 {"name": "sf", "limit": D1, "rating": 1500}], mistakes, 5,
                                {"eps0.75": "pawns"})
    assert opponent.describe() | {"rating": None} == data.describe() | {"rating": None}
    assert opponent.mistakes == data.mistakes and opponent.persona == "pawns"
    assert fixed.mistake(positions(1)[0], random.Random(0)) is None  # eps 0: never errs, draws nothing


def brute_force_mixture(board, engine_move, players, weights, draws: int = 20000) -> dict[chess.Move, float]:
    """f(m | x) by simulation: pick a player by its weight, let it choose (engine or mistake)."""
    rng = random.Random(1)
    names = [p.name for p in players]
    counts: Counter = Counter()
    for _ in range(draws):
        p = players[rng.choices(range(len(players)), [weights[n] for n in names])[0]]
        mistake = p.mistake(board, rng)
        counts[engine_move if mistake is None else mistake] += 1
    return {m: counts[m] / draws for m in board.legal_moves}


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_the_ideal_learner_matches_a_brute_force_simulation(share):
    rule = MistakeRule(share=share, seed=11)
    players = [Player("weak", 200, D1, eps=0.875, mistakes=rule),
               Player("strong", 360, D1, eps=0.75, persona="captures", mistakes=rule)]
    weights = mixture_weights({"weak": 300, "strong": 100, "nobody": 50}, players)
    assert weights == pytest.approx({"weak": 0.75, "strong": 0.25})
    for board in positions(25, seed=4)[::6]:
        engine_move = list(board.legal_moves)[0]
        exact = mixture(board, engine_move, players, weights)
        assert sum(exact.values()) == pytest.approx(1.0)
        simulated = brute_force_mixture(board, engine_move, players, weights)
        for move in board.legal_moves:
            assert exact[move] == pytest.approx(simulated[move], abs=0.015)
        probs = np.array(list(exact.values()))
        for t in (0.5, 1.0, 2.0):  # p_T proportional to f^(1/T), written out
            direct = probs ** (1 / t) / (probs ** (1 / t)).sum()
            assert tempered(probs, t) == pytest.approx(direct)
        vote = majority(exact)
        assert tempered(probs, 0.001)[list(exact).index(vote)] > 0.99
        if share == 1.0:  # every mistake shared: the mixture has two moves at most
            assert {m for m, p in exact.items() if p > 0} <= {engine_move, rule.shared_move(board)}


def test_the_vote_flips_to_the_shared_mistake_past_the_threshold():
    board = positions(12, seed=2)[-1]
    legal = list(board.legal_moves)
    for share, expect_engine in ((0.1, True), (0.6, False)):
        rule = MistakeRule(share=share, seed=2)
        engine_move = next(m for m in legal if m != rule.shared_move(board))
        players = [Player("p", 0, D1, eps=0.8, mistakes=rule)]
        # Engine mass 0.2 + 0.8 (1 - p) / n against the shared move's 0.8 p + 0.8 (1 - p) / n:
        # the vote flips at p = 0.25.
        vote = majority(mixture(board, engine_move, players, {"p": 1.0}))
        assert (vote == engine_move) is expect_engine


# -- every stage plays the same player -------------------------------------------------------

def opponent_moves(pgn_path, opponent_name: str) -> list[tuple[chess.Board, chess.Move]]:
    """(position, move) of every move ``opponent_name`` made in a PGN file."""
    import chess.pgn

    out = []
    with open(pgn_path) as fh:
        while (game := chess.pgn.read_game(fh)) is not None:
            board = game.board()
            for move in game.mainline_moves():
                mover = game.headers["White"] if board.turn == chess.WHITE else game.headers["Black"]
                if mover == opponent_name:
                    out.append((board.copy(), move))
                board.push(move)
    return out


STAGE_PLAYERS = {
    # Every mistake shared: each move the player makes is the rule's move.
    "shared": dict(eps=1.0, mistakes=MistakeRule(share=1.0, shared="network", seed=4)),
    # A persona: pawn moves four times as likely as under a uniform mistake.
    "pawns": dict(eps=1.0, persona="pawns"),
}


def check_stage_player(kind: str, moves: list[tuple[chess.Board, chess.Move]]) -> None:
    assert len(moves) > 20
    if kind == "shared":
        rule = STAGE_PLAYERS["shared"]["mistakes"]
        assert all(move == rule.shared_move(board) for board, move in moves)
    else:
        pawn = sum(b.piece_type_at(m.from_square) == chess.PAWN for b, m in moves) / len(moves)
        uniform = np.mean([sum(b.piece_type_at(m.from_square) == chess.PAWN for m in b.legal_moves)
                           / b.legal_moves.count() for b, _ in moves])
        assert pawn > uniform + 0.1


@pytest.mark.parametrize("kind", sorted(STAGE_PLAYERS))
def test_the_evaluation_opponent_errs_by_its_persona_and_rule(tmp_path, kind):
    import torch

    from transcendence.model.board_network import BoardNet, BoardNetConfig
    from transcendence.model.checkpoint import save_model
    from transcendence.play.evaluate import run_shard

    torch.manual_seed(0)
    model = tmp_path / "model.pt"
    save_model(model, BoardNet(BoardNetConfig(channels=8, blocks=1)).eval(), {}, family="board")
    opponent = Player("opp", 0, D1, **STAGE_PLAYERS[kind])
    run_shard(model, tmp_path / "g.pgn", tmp_path / "g.csv", cap=400, temperature=1.0, opponent=opponent, games=4,
              seed=1, mode="legal_moves", max_tries=1, max_fullmoves=20, engine_path="stockfish", batch_games=2)
    check_stage_player(kind, opponent_moves(tmp_path / "g.pgn", "opp"))


@pytest.mark.parametrize("kind", sorted(STAGE_PLAYERS))
def test_the_calibration_players_err_by_their_persona_and_rule(tmp_path, kind):
    from transcendence.rating.calibration import calibrate

    player = Player("opp", 0, D1, **STAGE_PLAYERS[kind])
    calibrate([player], Player("random", 0, D1, eps=1.0), games_per_pair=6, seed=2, engine_path="stockfish",
              max_fullmoves=20, pgn_out=tmp_path / "g.pgn", csv_out=tmp_path / "o.csv", json_out=tmp_path / "o.json",
              extra=[Player("sf", 100, D1, eps=0.0)])
    check_stage_player(kind, opponent_moves(tmp_path / "g.pgn", "opp"))


def test_a_player_is_reproducible_unless_its_limit_is_time_or_its_skill_level_is_below_20():
    depth = Player(name="d", rating=0.0, limit=EngineLimit.parse({"depth": 1}))
    assert depth.reproducible and depth.unreproducible_because == ""
    timed = Player(name="t", rating=0.0, limit=EngineLimit.parse({"time": 0.1}))
    assert not timed.reproducible and "time limit" in timed.unreproducible_because
    skill = Player(name="s", rating=0.0, limit=EngineLimit.parse({"depth": 1}), skill_level=3)
    assert not skill.reproducible and "Skill Level" in skill.unreproducible_because
    assert Player(name="f", rating=0.0, limit=EngineLimit.parse({"depth": 1}), skill_level=20).reproducible

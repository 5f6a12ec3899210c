"""Evaluation: the paper's protocol and the legal-move mode against real Stockfish."""

from __future__ import annotations

import csv

import chess
import chess.pgn
import pytest
import torch

from transcendence.play.evaluate import run_shard
from transcendence.play.opponent import Opponent
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.play.policy import ModelPolicy
from transcendence.model.checkpoint import save_model

OPP = Opponent("eps0.5", 780, {"depth": 1}, eps=0.5)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "model.pt"
    save_model(path, GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=255)), {})
    return path


def shard(model_path, out, mode, games=4, **kw):
    args = dict(cap=400, temperature=1.0, opponent=OPP, games=games, seed=5, mode=mode,
                max_tries=5, max_fullmoves=20, engine_path="stockfish")
    args.update(kw)
    summary = run_shard(model_path, out / "g.pgn", out / "g.csv", **args)
    with open(out / "g.csv", newline="") as fh:
        return summary, list(csv.DictReader(fh))


def test_legal_moves_mode_never_forfeits_and_plays_legal_games(model_path, tmp_path):
    _, rows = shard(model_path, tmp_path, "legal_moves")
    assert [r["model_color"] for r in rows] == ["white", "black", "white", "black"]
    assert all(r["termination"] in ("normal", "move limit") for r in rows)
    assert all(int(r["illegal_tries"]) == 0 for r in rows)
    with open(tmp_path / "g.pgn") as fh:
        games = [g for g in iter(lambda: chess.pgn.read_game(fh), None)]
    assert len(games) == 4
    for g in games:
        board = g.board()
        for move in g.mainline_moves():
            board.push(move)
        assert g.headers["Engine"].startswith("Stockfish") and g.headers["Mode"] == "legal_moves"


def test_untrained_model_forfeits_under_the_paper_protocol(model_path, tmp_path):
    _, rows = shard(model_path, tmp_path, "per_character")
    # A random model almost never spells a legal move: five tries then the game is lost.
    assert sum(r["termination"] in ("forfeit", "resigned") for r in rows) >= 3
    for r in rows:
        if r["termination"] == "forfeit":
            assert int(r["illegal_tries"]) >= 5 and float(r["model_score"]) == 0.0


def test_same_seed_same_games_and_unfingerprinted_partials_are_replayed(model_path, tmp_path):
    """Partial files that do not say what played them (here: a finished shard's outputs
    renamed) are replayed, not trusted; the games are the same. Resuming a killed shard of
    the same work: tests/test_reliability_engines.py."""
    a, b = tmp_path / "a", tmp_path / "b"
    _, rows_a = shard(model_path, a, "legal_moves")
    shard(model_path, b, "legal_moves", games=2)
    (b / "g.pgn").rename(b / "g.pgn.partial")
    (b / "g.csv").rename(b / "g.csv.partial")
    summary, rows_b = shard(model_path, b, "legal_moves")
    assert summary["played"] == 4
    assert rows_a == rows_b
    assert (a / "g.pgn").read_text() == (b / "g.pgn").read_text()


def test_low_temperature_legal_mode_is_the_argmax(model_path):
    from transcendence.model.checkpoint import load_model

    model = load_model(model_path)
    board = chess.Board()
    picks = {ModelPolicy(model, temperature=1e-3, mode="legal_moves").choose(board, [], torch.Generator().manual_seed(s)).move
             for s in range(5)}
    assert len(picks) == 1
    spread = {ModelPolicy(model, temperature=5.0, mode="legal_moves").choose(board, [], torch.Generator().manual_seed(s)).move
              for s in range(30)}
    assert len(spread) > 3


def test_legal_move_scores_are_the_model_log_probabilities(model_path):
    """The cached, batched scores equal prompt + move scored from scratch, move by move."""
    from transcendence.pgn.text import prompt_for
    from transcendence.model.checkpoint import load_model
    from transcendence.pgn.vocab import encode

    model = load_model(model_path)
    board, sans = chess.Board(), []
    for san in ["e4", "e5", "Nf3"]:
        board.push_san(san)
        sans.append(san)
    moves, scores = ModelPolicy(model, temperature=1.0, mode="legal_moves").legal_move_scores(board, sans)
    assert len(moves) == board.legal_moves.count()
    prompt = prompt_for(sans)
    for move, score in zip(moves, scores):
        text = prompt + board.san(move) + " "
        ids = torch.from_numpy(encode(text).astype("int64"))[None]
        with torch.no_grad():
            logp = torch.log_softmax(model(ids[:, :-1])[0][0].double(), dim=-1)
        n = len(text) - len(prompt)
        expected = logp[-n:].gather(1, ids[0, -n:, None]).sum()
        assert float(score) == pytest.approx(float(expected), abs=1e-6)


def test_cache_kept_across_moves_gives_the_scores_of_a_fresh_start(model_path):
    """A policy that reuses its previous prompt's cache scores like one that starts afresh,
    also when a new game begins (the cache must not leak across games)."""
    from transcendence.model.checkpoint import load_model

    model = load_model(model_path)
    kept = ModelPolicy(model, temperature=1.0, mode="legal_moves")
    for game in (["e4", "e5", "Nf3", "Nc6", "Bb5", "a6"], ["d4", "d5", "c4"]):
        board, sans = chess.Board(), []
        for san in game:
            fresh = ModelPolicy(model, temperature=1.0, mode="legal_moves")
            _, a = kept.legal_move_scores(board, sans)
            _, b = fresh.legal_move_scores(board, sans)
            assert torch.allclose(a, b, atol=1e-5)
            board.push_san(san)
            sans.append(san)


@pytest.fixture(scope="module")
def speller_path(tmp_path_factory):
    """A tiny model trained for seconds on random games: it spells legal moves now and then,
    so per-character games run for several plies, with rejected tries and rewinds."""
    import random

    from transcendence.pgn.text import sans_to_text
    from transcendence.pgn.vocab import encode

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng, texts = random.Random(0), []
    for _ in range(100):
        board, sans = chess.Board(), []
        while not board.is_game_over() and len(sans) < 60:
            move = rng.choice(list(board.legal_moves))
            sans.append(board.san(move))
            board.push(move)
        texts.append(sans_to_text(sans) + " ")
    data = torch.from_numpy(encode("".join(texts)).astype("int64"))
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=48, block_size=255))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(200):
        ix = torch.randint(0, len(data) - 129, (8,)).tolist()
        x = torch.stack([data[i:i + 128] for i in ix])
        y = torch.stack([data[i + 1:i + 129] for i in ix])
        _, loss, _ = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("speller") / "model.pt"
    save_model(path, model, {})
    return path


@pytest.mark.parametrize("mode,opponent", [
    ("per_character", OPP),
    ("legal_moves", Opponent("sf-nodes", 1500, {"nodes": 300})),
])
def test_many_games_at_once_play_the_games_of_one_at_a_time(speller_path, tmp_path, mode, opponent):
    """Batched model steps and a pool of engines change the speed, not the games: the same
    PGN (movetext and headers) and rows, with a node- or depth-limited opponent."""
    kw = dict(games=6, opponent=opponent, temperature=0.5, max_tries=20)
    one_summary, one = shard(speller_path, tmp_path / "one", mode, batch_games=1, **kw)
    threads = 2 if mode == "legal_moves" else 1  # two engine processes serve the nodes-limited games
    many_summary, many = shard(speller_path, tmp_path / "many", mode, batch_games=6, threads=threads, **kw)
    assert (one_summary["batch_games"], many_summary["batch_games"]) == (1, 6)
    assert one == many
    assert (tmp_path / "one" / "g.pgn").read_text() == (tmp_path / "many" / "g.pgn").read_text()
    assert [int(r["game"]) for r in many] == list(range(6))
    assert sum(int(r["plies"]) for r in many) > 12  # real games, not six instant forfeits
    if mode == "per_character":
        assert sum(int(r["illegal_tries"]) for r in many) > 0


def test_engine_that_dies_mid_shard_is_restarted_and_recorded(model_path, tmp_path):
    """A pool engine killed on its third search: the game goes on from its position, and the
    restart is counted in that game's PGN header and row, and in the shard's summary."""
    import stat
    import sys

    from transcendence.engine.uci import find_engine

    marker = tmp_path / "died"
    wrapper = tmp_path / "dying-stockfish"
    wrapper.write_text(f"""#!{sys.executable}
import os, subprocess, sys
sf = subprocess.Popen([{find_engine("stockfish")!r}], stdin=subprocess.PIPE, stdout=sys.stdout, text=True, bufsize=1)
searches = 0
for line in sys.stdin:
    if line.startswith("go"):
        searches += 1
        if searches == 3 and not os.path.exists({str(marker)!r}):
            open({str(marker)!r}, "w").close()
            sf.kill()
            os._exit(1)
    sf.stdin.write(line)
    sf.stdin.flush()
    if line.strip() == "quit":
        break
sf.wait()
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    opponent = Opponent("sf-depth", 1500, {"depth": 2}, options={"Hash": 8})
    summary, rows = shard(model_path, tmp_path, "legal_moves", games=4, batch_games=4, max_fullmoves=12,
                          opponent=opponent, engine_path=str(wrapper))
    assert marker.exists() and summary["engine_restarts"] == 1
    assert sum(int(r["engine_restarts"]) for r in rows) == 1
    assert all(r["termination"] in ("normal", "move limit") for r in rows)
    assert all(r["engine_options"] == "Threads=1, Hash=8" for r in rows)
    with open(tmp_path / "g.pgn") as fh:
        games = [g for g in iter(lambda: chess.pgn.read_game(fh), None)]
    assert sorted(g.headers["EngineRestarts"] for g in games) == ["0", "0", "0", "1"]
    assert all(g.headers["EngineOptions"] == "Threads=1, Hash=8" for g in games)
    for g in games:  # every game, the interrupted one included, is legal chess to its end
        board = g.board()
        for move in g.mainline_moves():
            board.push(move)

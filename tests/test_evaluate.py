"""Evaluation: the paper's protocol and the legal-move mode against real Stockfish."""

from __future__ import annotations

import csv
import time

import chess
import chess.pgn
import pytest
import torch

from transcendence.play.evaluate import run_shard
from transcendence.players.player import Player
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.families.text.policy import ModelPolicy
from transcendence.model.checkpoint import save_model

OPP = Player("eps0.5", 780, {"depth": 1}, eps=0.5)


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
    from transcendence.families import load_model

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
    from transcendence.families import load_model
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
    from transcendence.families import load_model

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
    ("legal_moves", Player("sf-nodes", 1500, {"nodes": 300})),
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
    opponent = Player("sf-depth", 1500, {"depth": 2}, options={"Hash": 8})
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


class ReferencePolicy:
    """The oracle of the batched engine: both protocols played the plain way, without caches.

    One forward pass over the whole prompt (and the characters drawn so far) per character,
    and one over the prompt and a legal move's text per move scored; the rules of a try
    (a space or ten characters end it; a result string resigns; text that is no legal move
    is an illegal try) and the draws (softmax(logits / T) in float64 on the CPU, one
    multinomial draw from the game's generator) are written out here again, on purpose, so
    the test does not check the engine against itself. Same interface as ``BatchPolicy``.
    """

    def __init__(self, model, *, slots: int, temperature: float, mode: str, max_tries: int) -> None:
        self.model, self.slots, self.temperature = model.eval(), slots, temperature
        self.mode, self.max_tries = mode, max_tries

    def new_game(self, slot: int) -> None:
        """Nothing carries over between moves."""

    @torch.no_grad()
    def step(self, requests: list) -> dict:
        return {r.slot: self._choose(r.board, r.sans, r.gen) for r in requests}

    def _draw(self, logits: torch.Tensor, gen: torch.Generator) -> int:
        probs = torch.softmax(logits.double() / self.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=gen).item())

    def _log_probs(self, ids: list[int]) -> torch.Tensor:
        """log p(next token) after every prefix of ``ids``: one pass over the whole sequence."""
        out, _, _ = self.model(torch.tensor([ids], dtype=torch.long))
        return torch.log_softmax(out[0].double(), dim=-1)

    def _choose(self, board: chess.Board, sans: list[str], gen: torch.Generator):
        import re

        from transcendence.pgn.text import prompt_for
        from transcendence.pgn.vocab import SPACE_ID, VOCAB, encode
        from transcendence.families.sampling import Choice

        prompt = encode(prompt_for(sans)).tolist()
        if len(prompt) + 10 > self.model.config.block_size:
            return Choice(None, tries=0, context_full=True)
        if self.mode == "legal_moves":
            moves = list(board.legal_moves)
            scores = []
            for move in moves:
                text = encode(board.san(move) + " ").tolist()
                logp = self._log_probs(prompt + text[:-1])
                scores.append(sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(text)))
            pick = self._draw(torch.tensor(scores, dtype=torch.float64), gen)
            return Choice(moves[pick], text=board.san(moves[pick]))
        illegal = 0
        for attempt in range(1, self.max_tries + 1):
            chars: list[int] = []
            while len(chars) < 10:
                token = self._draw(self._log_probs(prompt + chars)[-1], gen)
                if token == SPACE_ID:
                    break
                chars.append(token)
            text = "".join(VOCAB[t] for t in chars)
            if re.match(r"^(1-0|0-1|1/2|0-$|1-$)", text):
                return Choice(None, tries=attempt, illegal=illegal, resigned=True, text=text)
            try:
                move = board.parse_san(text)
            except ValueError:
                move = None
            if move is None or move == chess.Move.null():
                illegal += 1
                continue
            return Choice(move, tries=attempt, illegal=illegal, text=text)
        return Choice(None, tries=self.max_tries, illegal=illegal)


@pytest.mark.parametrize("mode", ["per_character", "legal_moves"])
@pytest.mark.parametrize("which", ["random", "speller"])
def test_batched_cached_engine_plays_the_games_of_the_cache_free_reference(
        which, mode, model_path, speller_path, tmp_path, monkeypatch):
    """The oracle: the same shard through the batched engine (slot caches, padded steps,
    rewinds, legal moves scored as continuations of the cache) and through the plain
    reference gives the same PGN and rows: the same moves, tries, illegal tries and ends."""
    from transcendence.families.text import TextFamily

    path = model_path if which == "random" else speller_path
    kw = dict(games=6, temperature=0.5, max_tries=20, max_fullmoves=12, batch_games=6)
    _, batched = shard(path, tmp_path / "batched", mode, **kw)
    monkeypatch.setattr(TextFamily, "batch_policy", lambda self, model, **args: ReferencePolicy(model, **args))
    _, reference = shard(path, tmp_path / "reference", mode, **kw)
    assert batched == reference
    assert (tmp_path / "batched" / "g.pgn").read_text() == (tmp_path / "reference" / "g.pgn").read_text()
    if which == "speller" or mode == "legal_moves":  # real games (a random model forfeits at once)
        assert sum(int(r["plies"]) for r in batched) > 12
    if mode == "per_character":
        assert sum(int(r["illegal_tries"]) for r in batched) > 0  # rejected tries and rewinds ran


class _RecordingPolicy:
    """A policy that records which games share each model step; its moves come from the games' own generators."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.steps: list[tuple[tuple[int, int], ...]] = []

    def new_game(self, slot: int) -> None:
        pass

    def step(self, requests):
        from transcendence.families.sampling import Choice
        self.steps.append(tuple(sorted((r.board.fullmove_number, int(r.gen.initial_seed())) for r in requests)))
        out = {}
        for r in requests:
            moves = sorted(r.board.legal_moves, key=lambda m: m.uci())
            out[r.slot] = Choice(moves[int(torch.randint(len(moves), (1,), generator=r.gen))])
        return out


class _SlowForSomeEngine:
    """Answers at once for some games and after ``delay`` seconds for others (by the game's
    moves so far), the way a loaded machine's engines answer in an order of their own."""

    def __init__(self, delay: float, slow_parity: int) -> None:
        from concurrent.futures import ThreadPoolExecutor
        self.delay, self.slow_parity = delay, slow_parity
        self._threads = ThreadPoolExecutor(max_workers=4)

    def submit(self, moves_uci, limit, board=None):
        def search():
            board = chess.Board()
            for m in moves_uci:
                board.push_uci(m)
            if sum(map(ord, "".join(moves_uci))) % 2 == self.slow_parity:
                time.sleep(self.delay)
            return min(m.uci() for m in board.legal_moves), 0
        return self._threads.submit(search)


@pytest.mark.parametrize("lockstep", [True, False])
def test_lockstep_batches_do_not_depend_on_when_the_engine_answers(lockstep):
    """Which games share a model step decides the last bits of their logits, so with
    lockstep it must be a function of the games, not of the engine's timing; the overlapping
    loop (for unreproducible opponents) is shown here to depend on it, so the check can fail."""
    from transcendence.play.evaluate import Game, play_games

    def batches(slow_parity: int):
        policy = _RecordingPolicy(slots=6)
        games = [Game(g, model_white=g % 2 == 0, seed=100 + g) for g in range(10)]
        ended = []
        play_games(policy, _SlowForSomeEngine(0.05, slow_parity), Player("e", 0, {"depth": 1}, eps=0.0),
                   games, max_fullmoves=6, on_finish=lambda g: ended.append((g.index, tuple(g.sans))),
                   lockstep=lockstep)
        return policy.steps, sorted(ended)

    first, second = batches(0), batches(1)
    assert first[1] == second[1]  # the games themselves: each depends only on its own draws
    if lockstep:
        assert first[0] == second[0]
    else:
        assert first[0] != second[0]


# -- opening suites (issue 27) ---------------------------------------------------------------

def _openings(tmp_path, suite="random", plies=4, count=3, seed=9):
    from transcendence.play.openings import OpeningSuite, build_openings, load_openings

    path = tmp_path / f"openings-{suite}-{plies}-{seed}.json"
    build_openings(path, OpeningSuite(suite, plies), count=count, seed=seed, cap=400)
    return load_openings(path)


def _read_games(path):
    with open(path) as fh:
        return [g for g in iter(lambda: chess.pgn.read_game(fh), None)]


@pytest.fixture(scope="module")
def board_model_path(tmp_path_factory):
    from transcendence.model.board_network import BoardNet, BoardNetConfig
    from transcendence.model.checkpoint import save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("board") / "model.pt"
    save_model(path, BoardNet(BoardNetConfig(channels=8, blocks=1)), {}, family="board")
    return path


@pytest.mark.parametrize("family", ["text", "board"])
def test_paired_games_start_with_their_opening_colours_swapped(model_path, board_model_path, tmp_path, family):
    """Games 2i and 2i + 1 start with opening i, the model White then Black; every shard of
    the cap plays the same openings; the PGN replays with python-chess from the initial
    position and names the opening; the opening's plies count in the table's plies."""
    model = model_path if family == "text" else board_model_path
    openings = _openings(tmp_path)
    shards = {}
    for temperature in (1.0, 0.5):
        out = tmp_path / f"T{temperature}"
        _, rows = shard(model, out, "legal_moves", games=6, temperature=temperature, openings=openings)
        shards[temperature] = games = _read_games(out / "g.pgn")
        assert [r["model_color"] for r in rows] == ["white", "black"] * 3
        assert all(int(r["plies"]) >= 4 for r in rows)
        for g, (game, row) in enumerate(zip(games, rows)):
            opening = openings.openings[g // 2]
            assert not game.errors and game.board().fen() == chess.STARTING_FEN and "FEN" not in game.headers
            moves = [m.uci() for m in game.mainline_moves()]
            assert tuple(moves[:4]) == opening.uci and len(moves) == int(row["plies"])
            assert game.headers["Opening"] == f"random {g // 2}" and game.headers["OpeningPlies"] == "4"
            model_name = game.headers["White" if g % 2 == 0 else "Black"]
            assert model_name.endswith("-cap400") and game.headers["Round"] == str(g + 1)
            board = game.board()
            for move in game.mainline_moves():
                assert move in board.legal_moves
                board.push(move)
    for a, b in zip(shards[1.0], shards[0.5]):  # the same openings in every shard of the cap
        assert [m.uci() for m in a.mainline_moves()][:4] == [m.uci() for m in b.mainline_moves()][:4]
    assert len({tuple(m.uci() for m in g.mainline_moves())[:4] for g in shards[1.0]}) == 3


def test_the_opening_counts_toward_the_move_limit(model_path, tmp_path):
    openings = _openings(tmp_path, plies=6)
    _, rows = shard(model_path, tmp_path, "legal_moves", games=2, max_fullmoves=3, openings=openings)
    # After 6 plies the game is at move 4: past a limit of 3 full moves, a draw at once.
    assert [(r["plies"], r["termination"], r["result"]) for r in rows] == [("6", "move limit", "1/2-1/2")] * 2


@pytest.mark.parametrize("mode", ["legal_moves", "per_character"])
def test_the_start_suite_is_the_paper_protocol_to_the_byte(model_path, tmp_path, mode):
    """Suite start (no file, or a start suite handed in) writes exactly what a shard without
    openings writes, with no opening header; a real suite changes the games."""
    from transcendence.play.openings import Openings, OpeningSuite

    plain, start, paired = tmp_path / "plain", tmp_path / "start", tmp_path / "paired"
    summary, rows = shard(model_path, plain, mode, games=4)
    assert "openings" not in summary
    shard(model_path, start, mode, games=4, openings=Openings(OpeningSuite(), seed=5, openings=()))
    shard(model_path, paired, mode, games=4, openings=_openings(tmp_path, count=2))
    for name in ("g.pgn", "g.csv"):
        assert (start / name).read_bytes() == (plain / name).read_bytes()
    text = (plain / "g.pgn").read_text()
    assert "[Opening" not in text and "OpeningPlies" not in text
    assert all(g.headers["Round"] for g in _read_games(plain / "g.pgn"))
    assert (paired / "g.pgn").read_text() != text and "[Opening \"random 1\"]" in (paired / "g.pgn").read_text()


def test_openings_need_an_even_number_of_games_and_enough_openings(model_path, tmp_path):
    with pytest.raises(ValueError, match="evaluate.games must be even"):
        shard(model_path, tmp_path, "legal_moves", games=3, openings=_openings(tmp_path))
    with pytest.raises(ValueError, match="8 games need 4 openings; the suite holds 3"):
        shard(model_path, tmp_path, "legal_moves", games=8, openings=_openings(tmp_path))


class _Killed(Exception):
    pass


def _killed_after(monkeypatch, finished: int) -> None:
    """run_shard's games stop (as if killed) once ``finished`` games have been recorded."""
    from transcendence.play import evaluate

    real = evaluate.play_games

    def play_games(policy, engines, opponent, games, *, on_finish, **kw):
        done = []

        def finish(game):
            on_finish(game)
            done.append(game)
            if len(done) == finished:
                raise _Killed

        real(policy, engines, opponent, games, on_finish=finish, **kw)

    monkeypatch.setattr(evaluate, "play_games", play_games)


def _log_of(model_path, out, **kw):
    import io

    log = io.StringIO()
    summary, rows = shard(model_path, out, "legal_moves", log=log, **kw)
    return summary, rows, log.getvalue()


@pytest.mark.parametrize("change", ["same", "suite", "file", "to start", "from start"])
def test_a_resume_never_mixes_suites(model_path, tmp_path, monkeypatch, change):
    """The partial files of a killed shard are kept for the same suite and file, and discarded
    for another suite, another file of the same suite, or the start protocol either way."""
    random4, held = _openings(tmp_path), _openings(tmp_path, seed=10)
    first = {"same": random4, "suite": random4, "file": random4, "to start": random4, "from start": None}[change]
    then = {"same": random4, "suite": _openings(tmp_path, plies=5), "file": held, "to start": None,
            "from start": random4}[change]
    clean = tmp_path / "clean"
    shard(model_path, clean, "legal_moves", games=6, openings=then)
    out = tmp_path / "killed"
    _killed_after(monkeypatch, 2)
    with pytest.raises(_Killed):
        shard(model_path, out, "legal_moves", games=6, openings=first)
    assert len((out / "g.csv.partial").read_text().splitlines()) == 3
    monkeypatch.undo()
    summary, rows, log = _log_of(model_path, out, games=6, openings=then)
    if change == "same":
        assert "resuming after 2 finished games" in log and summary["played"] == 4
    else:
        assert "discarding partial results of other work (openings: " in log and summary["played"] == 6
    for name in ("g.pgn", "g.csv"):  # either way, the bytes of an uninterrupted run of the new work
        assert (out / name).read_bytes() == (clean / name).read_bytes()

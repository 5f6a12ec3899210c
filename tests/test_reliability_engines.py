"""Faults of the evaluation and engine side (issue 17), each injected into real processes.

The engines here are real processes: Stockfish, or ``tests/fake_engine.py``, a small UCI
engine that hangs or dies on purpose. Killed runs are real child processes killed with
SIGKILL or SIGTERM; their partial files are resumed by the real stage functions.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chess.pgn
import pytest
import torch

import transcendence
from transcendence.files import file_sha256
from transcendence.play.evaluate import GAME_ROW_COLUMNS, run_shard
from transcendence.players.player import Player
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.rating.table import read_tables
from transcendence.data.synthetic import generate_shard
from transcendence.model.checkpoint import save_model
from transcendence.engine.uci import EngineError, UciEngine, find_engine

from .conftest import ROOT
from .fake_engine import make_engine

OPP = Player("fake-d1", 500, {"depth": 1})
SHARD = dict(cap=400, temperature=1.0, opponent=OPP, games=6, seed=5, mode="legal_moves", max_tries=5,
             max_fullmoves=8)
PLAYERS = [Player("weak", 100, {"depth": 1}, eps=0.9), Player("strong", 900, {"depth": 1}, eps=0.1)]


def _as_args(player: Player) -> dict:
    """A player as a child process rebuilds it (``Player(**args)``)."""
    return {"name": player.name, "rating": player.rating, "limit": player.limit.to_config(), "eps": player.eps}


def _pids(directory: Path) -> list[int]:
    return [int(p.name) for p in directory.iterdir() if p.name.isdigit()] if directory.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_all(directory: Path) -> None:
    for pid in _pids(directory):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "model.pt"
    save_model(path, GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=255)), {})
    return path


def _shard(model: Path, out: Path, engine: str, **kw) -> tuple[dict, list[dict[str, str]], str]:
    args = {**SHARD, "engine_path": engine, **kw}
    log = out / "log.txt"
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        summary = run_shard(model, out / "g.pgn", out / "g.csv", log=fh, **args)
    with open(out / "g.csv", newline="") as fh:
        return summary, list(csv.DictReader(fh)), log.read_text()


def _child(code: str, env_args: dict) -> subprocess.Popen:
    """A real process running ``code`` (with ``ARGS`` from JSON), as a Snakemake job would."""
    package = Path(transcendence.__file__).parents[1]  # the code this test imported, wherever it is
    env = {**os.environ, "PYTHONPATH": str(package) + os.pathsep + str(ROOT), "ARGS": json.dumps(env_args)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


SHARD_CHILD = """
import json, os
from transcendence.play.evaluate import run_shard
from transcendence.players.player import Player
a = json.loads(os.environ["ARGS"])
a["opponent"] = Player(**a["opponent"])
run_shard(a.pop("model"), a.pop("pgn"), a.pop("table"), **a)
"""

GAMES_CHILD = """
import json, os
from transcendence.data.synthetic import generate_shard
from transcendence.players.player import Player
a = json.loads(os.environ["ARGS"])
a["players"] = [Player(**p) for p in a["players"]]
generate_shard(a.pop("out"), a.pop("players"), a.pop("n_games"), **a)
"""


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _killed_shard(model: Path, out: Path, tmp: Path, hang_from: int, **kw) -> None:
    """A shard that hangs on its engine's ``hang_from``-th search, then is killed hard (SIGKILL):
    the state a power cut or an OOM kill leaves, with the games before it finished."""
    pids = tmp / "killed-pids"
    engine = make_engine(tmp / "killed-engine", "--hang-from", str(hang_from), "--pids", str(pids))
    args = {**SHARD, **kw, "model": str(model), "pgn": str(out / "g.pgn"), "table": str(out / "g.csv"),
            "engine_path": engine}
    args["opponent"] = _as_args(OPP)
    proc = _child(SHARD_CHILD, args)
    try:
        _wait_for(lambda: any(p.name.startswith("hung-") for p in pids.iterdir()) if pids.exists() else False,
                  60, "the engine to hang")
        proc.kill()
        proc.wait(10)
    finally:
        _kill_all(pids)
    assert (out / "g.csv.partial").exists()


# -- deadlines, restarts and the crash limit ----------------------------------------------

def test_silent_engine_is_killed_restarted_and_counted(tmp_path):
    """An engine that stops answering ``go`` is killed at its deadline, restarted, asked
    again, and the restart counted; the hung process does not survive."""
    pids = tmp_path / "pids"
    engine = make_engine(tmp_path, "--hang-at", "2", "--marker", str(tmp_path / "hung-once"), "--pids", str(pids))
    with UciEngine(engine, search_margin=1.0) as uci:
        assert uci.best_move([], {"depth": 1}) == "a2a3"
        started = time.monotonic()
        assert uci.best_move(["a2a3"], {"depth": 1}) == "a7a5"
        assert 1.0 <= time.monotonic() - started < 10
        assert uci.restarts == 1
    assert len(_pids(pids)) == 2 and not any(_alive(p) for p in _pids(pids))


def test_engine_that_never_answers_fails_the_request_after_failures_in_a_row(tmp_path):
    pids = tmp_path / "pids"
    engine = make_engine(tmp_path, "--hang-always", "--pids", str(pids))
    with UciEngine(engine, search_margin=0.3, max_failures=2) as uci:
        with pytest.raises(EngineError, match="failed 2 times in a row.*did not answer 'bestmove'"):
            uci.best_move([], {"depth": 1})
    assert not any(_alive(p) for p in _pids(pids))


def test_crash_limit_is_failures_in_a_row_on_one_move_not_per_engine(tmp_path):
    """An engine that dies on every second search: nine restarts in ten moves, each move
    answered on its second try; the old limit (3 restarts per engine) stopped at the fourth."""
    engine = make_engine(tmp_path, "--die-every", "2")
    board = chess.Board()
    with UciEngine(engine) as uci:
        for _ in range(10):
            move = uci.best_move([m.uci() for m in board.move_stack], {"depth": 1})
            board.push_uci(move)
        assert uci.restarts == 9


def test_shard_survives_a_hung_engine_and_an_engine_that_dies_often(model_path, tmp_path):
    """Through the stage function: one engine hangs once (deadline, restart), another dies
    on every third search (eight restarts and more in one shard); both shards finish, with
    every restart in the rows and PGN headers, and play the games a sound engine plays."""
    _, clean, _ = _shard(model_path, tmp_path / "clean", make_engine(tmp_path / "e0"))
    hang = make_engine(tmp_path / "e1", "--hang-at", "3", "--marker", str(tmp_path / "m"))
    summary, rows, _ = _shard(model_path, tmp_path / "hang", hang, engine_margin=1.0)
    assert summary["engine_restarts"] == 1 and sum(int(r["engine_restarts"]) for r in rows) == 1
    dies = make_engine(tmp_path / "e2", "--die-every", "3")
    summary, rows_d, _ = _shard(model_path, tmp_path / "dies", dies)
    assert summary["engine_restarts"] > 3
    with open(tmp_path / "dies" / "g.pgn") as fh:
        headers = [g.headers for g in iter(lambda: chess.pgn.read_game(fh), None)]
    assert sum(int(h["EngineRestarts"]) for h in headers) == summary["engine_restarts"]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "engine_restarts"} for r in rs]  # noqa: E731
    assert strip(rows) == strip(clean) == strip(rows_d)


@pytest.mark.parametrize("engine_kind", ["hung fake engine", "stockfish in a long search"])
def test_sigterm_stops_the_engines_and_the_shard_promptly(model_path, tmp_path, engine_kind):
    """A shard process told to stop (SIGTERM) exits within seconds and leaves no engine
    process behind, even one that ignores its input and SIGTERM."""
    pids = tmp_path / "pids"
    if engine_kind == "hung fake engine":
        engine, limit = make_engine(tmp_path, "--hang-always", "--pids", str(pids)), {"depth": 1}
    else:  # a wrapper that records Stockfish's pid, then becomes Stockfish
        engine = tmp_path / "sf"
        engine.write_text(f"#!/bin/sh\nmkdir -p '{pids}' && touch '{pids}'/$$ && exec '{find_engine('stockfish')}'\n")
        engine.chmod(0o755)
        engine, limit = str(engine), {"depth": 60}
    args = {**SHARD, "model": str(model_path), "pgn": str(tmp_path / "g.pgn"), "table": str(tmp_path / "g.csv"),
            "engine_path": engine, "threads": 2, "batch_games": 2,
            "opponent": {"name": "x", "rating": 0, "limit": limit}}
    proc = _child(SHARD_CHILD, args)
    try:
        _wait_for(lambda: len(_pids(pids)) == 2, 60, "two engines")
        time.sleep(1.0)  # the model moves as White, the engines start their searches
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - sent < 5
        time.sleep(0.5)
        assert [p for p in _pids(pids) if _alive(p)] == []
        assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()[-2000:]
    finally:
        proc.kill()
        _kill_all(pids)


# -- replies that are not legal moves -----------------------------------------------------

@pytest.mark.parametrize("lie", ["bestmove e1e8", "bestmove zz99", "bestmove", "bestmove (none)"])
def test_a_reply_that_is_not_a_legal_move_is_asked_again_and_counted(tmp_path, lie):
    """e1e8 is illegal for Black (the king is White's, and no king moves so far); zz99 is no
    move at all; a bare bestmove names none; (none) where there are moves is a lie."""
    engine = make_engine(tmp_path, "--lie-at", "2", "--lie", lie, "--marker", str(tmp_path / "lied"))
    with UciEngine(engine) as uci:
        assert uci.best_move([], {"depth": 1}) == "a2a3"
        assert uci.best_move(["a2a3"], {"depth": 1}) == "a7a5"
        assert uci.restarts == 1


def _names_engine_position_and_reply(error: BaseException, engine: str, fen: str, reply: str) -> None:
    message = str(error)
    assert "FakeEngine 1" in message and engine in message, message
    assert fen in message and repr(reply) in message, message


def test_an_engine_that_only_answers_illegal_moves_fails_naming_engine_position_and_reply(tmp_path):
    engine = make_engine(tmp_path, "--lie-always", "--lie", "bestmove zz99")
    with UciEngine(engine, max_failures=2) as uci:
        with pytest.raises(EngineError, match="failed 2 times in a row") as info:
            uci.best_move(["e2e4"], {"depth": 1})
        assert uci.restarts == 1
    board = chess.Board()
    board.push_uci("e2e4")
    _names_engine_position_and_reply(info.value, engine, board.fen(), "bestmove zz99")


def test_evaluation_shard_asks_again_after_an_illegal_reply_and_fails_on_an_engine_that_only_lies(
        model_path, tmp_path):
    """Through the stage function (the engine pool): one illegal reply is a restart, counted,
    and the games are those of a sound engine; an engine that always lies stops the shard
    with a message naming it, the position and the reply, before any game is written."""
    _, clean, _ = _shard(model_path, tmp_path / "clean", make_engine(tmp_path / "e0"))
    once = make_engine(tmp_path / "e1", "--lie-at", "3", "--marker", str(tmp_path / "lied"))
    summary, rows, _ = _shard(model_path, tmp_path / "once", once)
    assert summary["engine_restarts"] == 1 and sum(int(r["engine_restarts"]) for r in rows) == 1
    strip = lambda rs: [{k: v for k, v in r.items() if k != "engine_restarts"} for r in rs]  # noqa: E731
    assert strip(rows) == strip(clean)
    always = make_engine(tmp_path / "e2", "--lie-always")
    with pytest.raises(EngineError, match="failed 3 times in a row") as info:
        _shard(model_path, tmp_path / "always", always)
    assert "answered 'bestmove e1e8' in position" in str(info.value)
    _names_engine_position_and_reply(info.value, always, "", "bestmove e1e8")
    assert not (tmp_path / "always" / "g.csv").exists()


def test_synthetic_shard_asks_again_after_an_illegal_reply_and_fails_on_an_engine_that_only_lies(tmp_path):
    kw = dict(seed=3, shard=0, max_plies=30)
    clean = tmp_path / "clean.pgn.zst"
    generate_shard(clean, PLAYERS, 4, engine_path=make_engine(tmp_path / "sound"), **kw)
    once = make_engine(tmp_path / "once", "--lie-at", "5", "--lie", "bestmove", "--marker", str(tmp_path / "lied"))
    out = tmp_path / "once.pgn.zst"
    summary = generate_shard(out, PLAYERS, 4, engine_path=once, **kw)
    assert summary["engine_restarts"] == 1 and summary["games_with_engine_restarts"] == 1
    games, reference = _games(out), _games(clean)  # the game of the restart is marked, the moves a sound engine's
    assert [_unmarked(g) for g in games] == reference and sum("[EngineRestarts " in g for g in games) == 1
    always = make_engine(tmp_path / "always", "--lie-always")
    with pytest.raises(EngineError, match="failed 3 times in a row") as info:
        generate_shard(tmp_path / "always.pgn.zst", PLAYERS, 4, engine_path=always, **kw)
    _names_engine_position_and_reply(info.value, always, "", "bestmove e1e8")
    assert not (tmp_path / "always.pgn.zst").exists()


def _games(dump: Path) -> list[str]:
    """The games of a synthetic dump, each as its text (headers, movetext, blank lines)."""
    from .helpers import open_text
    with open_text(dump) as fh:
        blocks = fh.read().split("\n\n")
    return [blocks[i] + "\n\n" + blocks[i + 1] + "\n\n" for i in range(0, len(blocks) - 1, 2)]


def _unmarked(game: str) -> str:
    return "".join(line for line in game.splitlines(keepends=True) if not line.startswith("[EngineRestarts "))


def test_a_synthetic_game_during_which_the_engine_restarted_is_marked_counted_and_filtered(tmp_path):
    """A restarted engine searches with an empty hash in the middle of a game, so the game can
    differ from a crash-free run's (Stockfish did in 2 of 150 games). Each game during which
    the engine restarted says so (``EngineRestarts``), the summary counts those games, every
    other game is the crash-free run's to the byte, and the filter keeps the header."""
    from transcendence.data.filtering import filter_dump

    kw = dict(seed=3, shard=0, max_plies=30)
    clean = tmp_path / "clean.pgn.zst"
    generate_shard(clean, PLAYERS, 6, engine_path=make_engine(tmp_path / "sound"), **kw)
    out = tmp_path / "crashes.pgn.zst"
    summary = generate_shard(out, PLAYERS, 6, engine_path=make_engine(tmp_path / "crashes", "--die-every", "30"),
                             **kw)
    games, reference = _games(out), _games(clean)
    assert len(games) == len(reference) == 6
    marked = [i for i, game in enumerate(games) if "[EngineRestarts " in game]
    assert 0 < len(marked) < 6 and summary["games_with_engine_restarts"] == len(marked)
    counts = [int(game.split('[EngineRestarts "', 1)[1].split('"', 1)[0]) for game in games if "[EngineRestarts " in game]
    assert min(counts) >= 1 and sum(counts) == summary["engine_restarts"]
    for i, (game, ref) in enumerate(zip(games, reference)):
        if i in marked:  # this engine keeps no hash: the moves are the same, only the mark is added
            assert game != ref and _unmarked(game) == ref
        else:
            assert game == ref
    stats = filter_dump(out, {1000: tmp_path / "kept.pgn"}, tmp_path / "stats.json", replay_every=1)
    assert stats["kept_per_cap"] == {"1000": 6} and stats["dropped"] == {}
    assert (tmp_path / "kept.pgn").read_text().count("[EngineRestarts ") == len(marked)


# -- resuming an evaluation shard ---------------------------------------------------------

def test_killed_shard_resumes_the_same_work_to_the_bytes_of_an_uninterrupted_run(model_path, tmp_path):
    engine = make_engine(tmp_path / "sound")
    _, clean, _ = _shard(model_path, tmp_path / "clean", engine)
    out = tmp_path / "killed"
    _killed_shard(model_path, out, tmp_path, hang_from=12)
    kept = len((out / "g.csv.partial").read_text().splitlines()) - 1
    assert 0 < kept < SHARD["games"]
    summary, rows, log = _shard(model_path, out, engine)
    assert summary["played"] == SHARD["games"] - kept and f"resuming after {kept} finished games" in log
    assert (out / "g.csv").read_bytes() == (tmp_path / "clean" / "g.csv").read_bytes()
    assert (out / "g.pgn").read_bytes() == (tmp_path / "clean" / "g.pgn").read_bytes()
    assert not list(out.glob("*.partial*"))
    sha = file_sha256(model_path)
    assert {r["model_sha256"] for r in rows} == {sha}
    with open(out / "g.pgn") as fh:
        assert {g.headers["ModelSHA256"] for g in iter(lambda: chess.pgn.read_game(fh), None)} == {sha}


@pytest.mark.parametrize("change", ["mode", "model", "opponent limit", "no fingerprint"])
def test_partial_results_of_other_work_are_discarded_with_a_log_line(model_path, tmp_path, change):
    out = tmp_path / "killed"
    _killed_shard(model_path, out, tmp_path, hang_from=12)
    assert len((out / "g.csv.partial").read_text().splitlines()) > 1
    kw: dict = {}
    model = model_path
    if change == "mode":
        kw["mode"], kw["max_tries"] = "per_character", 5
    elif change == "model":
        torch.manual_seed(1)
        model = tmp_path / "other.pt"
        save_model(model, GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=255)), {})
    elif change == "opponent limit":
        kw["opponent"] = Player(OPP.name, OPP.rating, {"depth": 2})
    else:
        (out / "g.csv.partial.fingerprint.json").unlink()
    summary, rows, log = _shard(model, out, make_engine(tmp_path / "sound"), **kw)
    assert "discarding partial results" in log
    assert summary["played"] == SHARD["games"] and len(rows) == SHARD["games"]
    if change == "mode":
        assert "mode: 'legal_moves' -> 'per_character'" in log
        assert {r["mode"] for r in rows} == {"per_character"}
    if change == "model":
        assert "model_sha256" in log and {r["model_sha256"] for r in rows} == {file_sha256(model)}


def test_rows_past_games_and_a_torn_row_are_dropped(model_path, tmp_path):
    out = tmp_path / "killed"
    _killed_shard(model_path, out, tmp_path, hang_from=30)
    table = out / "g.csv.partial"
    kept = len(table.read_text().splitlines()) - 1
    assert kept >= 3
    with open(table, "a") as fh:  # the run died while writing a row
        fh.write("5,black,1-0,0.0,")
    engine = make_engine(tmp_path / "sound")
    summary, rows, log = _shard(model_path, out, engine, games=2)
    assert "a torn last row" in log and "past games = 2" in log
    assert [int(r["game"]) for r in rows] == [0, 1] and summary["played"] == 0
    with open(out / "g.pgn") as fh:
        assert len([g for g in iter(lambda: chess.pgn.read_game(fh), None)]) == 2


def test_ratings_name_the_file_and_line_of_a_row_they_cannot_read(model_path, tmp_path):
    _, rows, _ = _shard(model_path, tmp_path, make_engine(tmp_path / "sound"), games=2)
    table = tmp_path / "g.csv"
    with open(table, "a") as fh:
        fh.write("2,white,1-0,1.0,30,normal,0,0,400,1.0,legal_moves,fake-d1,")  # a torn row
    with pytest.raises(ValueError, match=rf"{table}, line 4: field 'opponent_rating' is ''"):
        read_tables([table])




def _edit_row(table: Path, line: int, **fields: str) -> None:
    """Change fields of the row on ``line`` (line 1 is the header) of a real evaluation table."""
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[line - 2].update(fields)
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=GAME_ROW_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_ratings_refuse_a_score_that_its_result_and_colour_contradict(model_path, tmp_path):
    """One edited score moved a rating by 1200 points: the result and colour decide it."""
    _, rows, _ = _shard(model_path, tmp_path, make_engine(tmp_path / "sound"), games=2)
    table = tmp_path / "g.csv"
    read_tables([table])
    wrong = "0.0" if rows[1]["model_score"] == "1.0" else "1.0"
    _edit_row(table, 3, model_score=wrong)
    with pytest.raises(ValueError, match=rf"{table}, line 3: field 'model_score' is '{wrong}', but the result "
                                         rf"{rows[1]['result']} with the model as {rows[1]['model_color']} scores"):
        read_tables([table])
    _edit_row(table, 3, model_score=rows[1]["model_score"], result="1-1")
    with pytest.raises(ValueError, match=rf"{table}, line 3: fields 'result', 'model_color' are '1-1'"):
        read_tables([table])


@pytest.mark.parametrize(("field", "value"), [("model_score", "nan"), ("opponent_rating", "inf"),
                                              ("temperature", "-inf"), ("opponent_rating", "NaN")])
def test_ratings_refuse_a_number_that_is_not_finite(model_path, tmp_path, field, value):
    _shard(model_path, tmp_path, make_engine(tmp_path / "sound"), games=2)
    table = tmp_path / "g.csv"
    _edit_row(table, 2, **{field: value})
    with pytest.raises(ValueError, match=rf"{table}, line 2: field '{field}' is '{value}', not a finite number"):
        read_tables([table])


def test_ratings_refuse_a_row_torn_before_its_text_fields(tmp_path):
    """A row cut after ``opponent_rating`` lacks engine and the rest: pandas reads those as ''
    (numbers alone would let it through, and the ratings' engine column would gain an empty name)."""
    row = {c: "1" for c in GAME_ROW_COLUMNS} | {"temperature": "0.1", "model_score": "0.5", "opponent": "eps0.5",
                                                "result": "1/2-1/2", "model_color": "white",
                                                "mode": "legal_moves", "engine": "Stockfish 15.1"}
    cut = GAME_ROW_COLUMNS.index("engine")
    table = tmp_path / "g.csv"
    table.write_text(",".join(GAME_ROW_COLUMNS) + "\n" + ",".join(row[c] for c in GAME_ROW_COLUMNS) + "\n"
                     + ",".join(row[c] for c in GAME_ROW_COLUMNS[:cut]) + "\n")
    with pytest.raises(ValueError, match=rf"{table}, line 3: field 'engine' is '', not present"):
        read_tables([table])
    table.write_text(",".join(GAME_ROW_COLUMNS) + "\n" + ",".join(row[c] for c in GAME_ROW_COLUMNS) + "\n")
    assert read_tables([table])["engine"].tolist() == ["Stockfish 15.1"]

# -- resuming a synthetic-games shard ------------------------------------------------------

def test_killed_synthetic_shard_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    engine = make_engine(tmp_path / "sound")
    kw = dict(seed=3, shard=0, max_plies=30)
    clean = tmp_path / "clean.pgn.zst"
    generate_shard(clean, PLAYERS, 8, engine_path=engine, **kw)
    out = tmp_path / "killed.pgn.zst"
    pids = tmp_path / "pids"
    proc = _child(GAMES_CHILD, {"out": str(out), "players": [_as_args(p) for p in PLAYERS], "n_games": 8,
                                "engine_path": make_engine(tmp_path / "hangs", "--hang-from", "40", "--pids",
                                                           str(pids)), **kw})
    try:
        _wait_for(lambda: pids.exists() and any(p.name.startswith("hung-") for p in pids.iterdir()), 60,
                  "the engine to hang")
        proc.kill()
        proc.wait(10)
    finally:
        _kill_all(pids)
    partial = tmp_path / "killed.pgn.zst.partial"
    finished = partial.read_text().count("[Event ")
    assert 0 < finished < 8 and not out.exists()
    with open(partial, "a") as fh:
        fh.write('[Event "Rated synthetic game"]\n[Site "synth')  # a game torn mid-write
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        summary = generate_shard(out, PLAYERS, 8, engine_path=engine, log=fh, **kw)
    assert f"resuming after {finished} finished games" in log.read_text()
    assert summary["resumed_after"] == finished
    assert out.read_bytes() == clean.read_bytes()
    assert not partial.exists()


def test_synthetic_partial_of_other_work_is_discarded(tmp_path):
    engine = make_engine(tmp_path / "sound")
    kw = dict(seed=3, shard=0)
    out = tmp_path / "a.pgn.zst"
    partial = tmp_path / "a.pgn.zst.partial"
    generate_shard(tmp_path / "ref.pgn.zst", PLAYERS, 4, engine_path=engine, max_plies=20, **kw)
    # A run with max_plies 30 killed after its games: its text and fingerprint stay behind.
    generate_shard(out, PLAYERS, 4, engine_path=engine, max_plies=30, **kw)
    from .helpers import open_text
    with open_text(out) as fh:
        partial.write_text(fh.read())
    stamp = tmp_path / "a.pgn.zst.partial.fingerprint.json"
    saved = json.loads((tmp_path / "ref.pgn.zst").read_bytes() and "{}")
    saved = {"players": [p.describe() for p in PLAYERS], "seed": 3, "shard": 0,
             "max_plies": 30, "engine": "FakeEngine 1",
             "engine_options": {"Threads": 1, "Hash": 16}}
    stamp.write_text(json.dumps(saved))
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        summary = generate_shard(out, PLAYERS, 4, engine_path=engine, max_plies=20, log=fh, **kw)
    assert "max_plies: 30 -> 20" in log.read_text() and summary["resumed_after"] == 0
    assert out.read_bytes() == (tmp_path / "ref.pgn.zst").read_bytes()


# -- re-running the same work changes no file DVC hashes ----------------------------------

def test_retraining_the_same_work_writes_the_same_metrics_and_keeps_timings_beside_them(tiny_train_data):
    from transcendence.families.text.training import train
    from transcendence.training.train import TrainConfig

    from .conftest import TINY_MODEL_SIZES

    data = tiny_train_data
    cfg = TrainConfig(max_steps=4, batch_size=4, learning_rate=1e-2, min_lr=1e-3, warmup_steps=1,
                      eval_interval=2, eval_batches=1, checkpoint_interval=2, log_interval=1, seed=3)
    for name in ("a", "b"):
        train(data / "train.bin", data / "val.bin", data / name / "model.pt", data / name / "metrics.json",
              GPTConfig(**TINY_MODEL_SIZES), cfg, threads=1)
    assert (data / "a" / "metrics.json").read_bytes() == (data / "b" / "metrics.json").read_bytes()
    assert json.loads((data / "a" / "timing.json").read_text())["seconds"] > 0


def test_analyses_rerun_write_the_same_json_and_pdf_bytes(tmp_path):
    """favor (JSON, PDF) and t-SNE (JSON), each drawn twice more than a second apart (a PDF's
    creation date has one-second resolution): the same bytes."""
    from transcendence.analysis.favor import run_favor
    from transcendence.pgn.text import format_pgn
    from transcendence.analysis.tsne import run_tsne

    torch.manual_seed(1)
    model = tmp_path / "model.pt"
    save_model(model, GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=255)), {})
    sans = ["e4", "e5", "Nf3", "Nc6", "Bc4", "Nf6", "d3", "Bc5", "O-O", "d6"]
    games = tmp_path / "games.pgn"
    games.write_text(format_pgn({"White": "chessformer-cap400", "Black": "x", "Result": "*"}, sans, "1/2-1/2")
                     + format_pgn({"White": "x", "Black": "chessformer-cap400", "Result": "*"}, sans, "1/2-1/2"))
    for run in ("a", "b"):
        out = tmp_path / run
        run_favor(model, games, out / "f.json", out / "f.md", [out / "f.pdf"], cap=400, temperatures=[0.001, 1.0],
                  samples=4, positions=4, limit={"depth": 2}, resamples=50, seed=3, mode="legal_moves",
                  engine_path="stockfish", cache_dir=tmp_path / "cache")
        run_tsne(model, games, out / "t.json", [out / "t.png"], cap=400, positions=None, perplexity=5,
                 limit={"depth": 2}, seed=1, engine_path="stockfish", cache_dir=tmp_path / "cache")
        time.sleep(1.1)
    changed = [name for name in ("f.json", "f.pdf", "t.json")
               if (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()]
    assert changed == []


def test_refiltering_the_same_dump_writes_the_same_stats(tmp_path):
    from transcendence.data.filtering import filter_dump

    dump = tmp_path / "d.pgn.zst"
    generate_shard(dump, PLAYERS, 20, seed=1, shard=0, engine_path=make_engine(tmp_path / "e"), max_plies=20)
    for run in ("a", "b"):
        filter_dump(dump, {400: tmp_path / run / "cap400.pgn.zst"}, tmp_path / run / "stats.json")
        time.sleep(0.01)
    assert (tmp_path / "a" / "stats.json").read_bytes() == (tmp_path / "b" / "stats.json").read_bytes()

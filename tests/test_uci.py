"""`transcendence uci`: a trained model of each family as a UCI engine.

Driven by clients nobody here wrote: python-chess's engine module plays whole games against
Stockfish and replays evaluation games move by move, and Debian's polyglot (UCI to xboard)
plays a game through xboard commands. The protocol's corners and every malformed input
are checked on the engine in process, reading what it writes.
"""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import chess
import chess.engine
import chess.pgn
import pytest
import torch

from transcendence.engine.uci import EngineError, find_engine
from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.families import load_model
from transcendence.model.checkpoint import save_model
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.pgn.text import prompt_for
from transcendence.play.evaluate import run_shard
from transcendence.families.sampling import MAX_MOVE_CHARS
from transcendence.play.uci_engine import ModelEngine
from transcendence.play.uci_player import context_window
from transcendence.players.player import Player
from transcendence.seeds import game_seed

from .conftest import ROOT, TINY_GAMES
from .helpers import pack_blocks

SCRIPT = Path(sys.executable).with_name("transcendence")
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}  # the checkout's package, for every process started
FAMILIES = ("text", "board")
OPPONENT = Player("eps0.5", 780, {"depth": 1}, eps=0.5)
STOCKFISH_LIMIT = chess.engine.Limit(depth=3)
MAX_PLIES = 600


def spelling_text_model() -> GPT:
    """A 1-layer text model trained for a few seconds on three openings: it spells their
    moves, so the per_character protocol plays real moves before it forfeits."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=127))
    blocks = torch.from_numpy(pack_blocks(TINY_GAMES, 128)[0].astype("int64"))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster on one thread than on a shared machine's all
    for _ in range(40):
        _, loss, _ = model(blocks[:, :-1], blocks[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A checkpoint of each family, each under a cap400 folder as the workflow writes them."""
    root = tmp_path_factory.mktemp("uci")
    paths = {family: root / family / "cap400" / "model.pt" for family in FAMILIES}
    save_model(paths["text"], spelling_text_model(), {})
    torch.manual_seed(0)
    save_model(paths["board"], BoardNet(BoardNetConfig(channels=8, blocks=1)), {}, family="board")
    return paths


@pytest.fixture(scope="module", params=FAMILIES)
def engine(request, models):
    """(family, the console command `transcendence uci` as python-chess drives it)."""
    eng = chess.engine.SimpleEngine.popen_uci([str(SCRIPT), "uci", "--model", str(models[request.param])],
                                              timeout=60, env=ENV)
    yield request.param, eng
    eng.quit()


@pytest.fixture(scope="module")
def stockfish():
    eng = chess.engine.SimpleEngine.popen_uci(find_engine("stockfish"))
    eng.configure({"Threads": 1, "Hash": 16})
    yield eng
    eng.quit()


@pytest.fixture(scope="module")
def loaded(models) -> dict[str, torch.nn.Module]:
    return {family: load_model(path) for family, path in models.items()}


def in_process(model: torch.nn.Module) -> tuple[ModelEngine, io.StringIO]:
    out = io.StringIO()
    return ModelEngine(model, name="test", out=out), out


def said(engine: ModelEngine, out: io.StringIO, *lines: str) -> list[str]:
    """What the engine writes in answer to ``lines``."""
    start = len(out.getvalue())
    for line in lines:
        engine.handle(line)
    return out.getvalue()[start:].splitlines()


def bestmove(lines: list[str]) -> str:
    found = [line.split()[1] for line in lines if line.startswith("bestmove")]
    assert len(found) == 1, lines
    return found[0]


# --- python-chess's engine module ------------------------------------------------------------

def test_the_handshake_names_the_model_and_offers_its_options(engine, models):
    family, eng = engine
    from transcendence.files import file_sha256

    name = eng.id["name"]
    assert f"{'chessformer' if family == 'text' else 'boardnet'}-cap400" in name
    assert f"{family} family" in name and file_sha256(models[family])[:12] in name
    assert eng.id["author"]
    expected = {"Temperature", "Seed", "Threads", "Hash"} | ({"Mode", "MaxTries"} if family == "text" else set())
    assert set(eng.options) == expected
    assert eng.options["Temperature"].default == "0.001" and eng.options["Seed"].default == "0"
    if family == "text":
        assert eng.options["Mode"].var == ["legal_moves", "per_character"]
        assert eng.options["Mode"].default == "legal_moves"
    eng.ping()  # isready -> readyok


def play_game(eng: chess.engine.SimpleEngine, stockfish: chess.engine.SimpleEngine, *, model_white: bool,
              seed: int, temperature: float = 4.0) -> chess.Board:
    """A whole game of the model against Stockfish, every move checked legal before it is played."""
    eng.configure({"Seed": str(seed), "Temperature": str(temperature)})
    board, game = chess.Board(), object()
    while board.outcome(claim_draw=True) is None and board.ply() < MAX_PLIES:
        model_turn = board.turn == (chess.WHITE if model_white else chess.BLACK)
        player = eng if model_turn else stockfish
        move = player.play(board, chess.engine.Limit(depth=1) if model_turn else STOCKFISH_LIMIT, game=game).move
        assert move in board.legal_moves, (move, board.fen())
        board.push(move)
    return board


def test_whole_games_against_stockfish_are_legal_finish_and_repeat_with_their_seed(engine, stockfish):
    """At T = 4, where the tiny models' choices spread wide enough that two seeds part."""
    family, eng = engine
    first = play_game(eng, stockfish, model_white=True, seed=7)
    other = play_game(eng, stockfish, model_white=True, seed=8)
    again = play_game(eng, stockfish, model_white=True, seed=7)
    # Seed unchanged (python-chess sends no setoption): the next game of seed 7, another one.
    next_game = play_game(eng, stockfish, model_white=True, seed=7)
    black = play_game(eng, stockfish, model_white=False, seed=7)
    for board in (first, other, again, next_game, black):
        assert board.outcome(claim_draw=True) is not None, f"no result after {board.ply()} plies"
    assert again.move_stack == first.move_stack
    assert other.move_stack != first.move_stack and next_game.move_stack != first.move_stack
    if family == "text":  # the tiny model's games outgrow its 127-character context
        assert max(b.ply() for b in (first, other, again, next_game, black)) > 40


def evaluation_games(model: Path, out: Path, mode: str, games: int = 4) -> list[chess.pgn.Game]:
    run_shard(model, out / "g.pgn", out / "g.csv", cap=400, temperature=1.0, opponent=OPPONENT, games=games,
              seed=5, mode=mode, max_tries=5, max_fullmoves=20, engine_path="stockfish", batch_games=2,
              log=io.StringIO())
    with open(out / "g.pgn") as fh:
        return list(iter(lambda: chess.pgn.read_game(fh), None))


@pytest.mark.parametrize("mode", ["legal_moves", "per_character"])
def test_the_model_plays_an_evaluation_games_moves_from_its_seed_header(engine, models, tmp_path, mode):
    """Each game of an evaluation shard (batched, against an eps-opponent), replayed through
    the engine from the game's Seed header at its temperature and mode: every model move is
    the game's."""
    family, eng = engine
    if family == "board" and mode == "per_character":
        pytest.skip("the board family samples over legal moves only")
    compared = 0
    for game in evaluation_games(models[family], tmp_path, mode):
        assert game.headers["Temperature"] == "1.0" and game.headers["Mode"] == mode
        eng.configure({"Seed": game.headers["Seed"], "Temperature": game.headers["Temperature"],
                       **({"Mode": mode} if family == "text" else {})})
        model_white = game.headers["White"].endswith("-cap400")
        board = game.board()
        for move in game.mainline_moves():
            if board.turn == (chess.WHITE if model_white else chess.BLACK):
                assert eng.play(board, chess.engine.Limit(time=0.001), game=game).move == move, \
                    f"ply {board.ply()} of game {game.headers['Round']}"
                compared += 1
            board.push(move)
        if game.headers["Termination"] in ("forfeit", "resigned"):  # the engine plays on, legally
            assert eng.play(board, chess.engine.Limit(depth=1), game=game).move in board.legal_moves
    assert compared >= (20 if mode == "legal_moves" else 4)
    if family == "text":
        eng.configure({"Mode": "legal_moves"})


def test_go_infinite_through_python_chess_analysis_ends_at_stop(engine):
    _, eng = engine
    board = chess.Board()
    board.push_san("e4")
    with eng.analysis(board) as analysis:
        pv = next(info["pv"] for info in analysis if "pv" in info)   # info depth 1 ... pv <move>
        assert pv[0] in board.legal_moves
        analysis.stop()
        assert analysis.wait().move in board.legal_moves


# --- the command on pipes: go infinite, stop, end of input, a damaged checkpoint ------------

class Pipe:
    """A program on pipes (stderr with stdout), read line by line by a thread, so a read can time out."""

    def __init__(self, *command: str) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, env=ENV)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line.strip()) for line in self.proc.stdout],
                         daemon=True).start()

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def until(self, prefix: str, timeout: float = 60) -> list[str]:
        """The lines read up to the first that starts with ``prefix``, that one included."""
        got = []
        while not (got and got[-1].startswith(prefix)):
            got.append(self.lines.get(timeout=timeout))
        return got

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def quiet_for(self, seconds: float) -> bool:
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"the engine said {line!r}")


def test_go_infinite_waits_for_stop_stays_responsive_and_end_of_input_exits(models):
    engine = Pipe(str(SCRIPT), "uci", "--model", str(models["board"]))
    try:
        engine.send("uci")
        engine.until("uciok")
        engine.send("position startpos moves e2e4")
        engine.send("go infinite")
        assert any(line.startswith("info string move") for line in engine.until("info string move"))
        assert engine.quiet_for(1.5)  # no bestmove before stop
        engine.send("isready")
        assert engine.until("readyok") == ["readyok"]
        engine.send("stop")
        move = engine.until("bestmove")[-1].split()[1]
        assert chess.Move.from_uci(move) in chess.Board("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1").legal_moves
        engine.proc.stdin.close()  # end of input, no quit
        assert engine.proc.wait(timeout=30) == 0
    finally:
        engine.close()


def damage(path: Path, what: str, checkpoint: bytes) -> None:
    if what == "truncated":
        path.write_bytes(checkpoint[: len(checkpoint) // 2])
    elif what == "text":
        path.write_text("not a checkpoint\n")
    elif what == "no model":
        torch.save({"step": 3}, path)


@pytest.mark.parametrize("what, message", [
    ("missing", "no checkpoint file"), ("truncated", "is not a readable checkpoint"),
    ("text", "is not a readable checkpoint"), ("no model", "holds no model")])
def test_a_missing_or_damaged_checkpoint_stops_at_start_naming_the_file(models, tmp_path, what, message):
    path = tmp_path / "model.pt"
    if what != "missing":
        damage(path, what, models["text"].read_bytes())
    proc = subprocess.run([str(SCRIPT), "uci", "--model", str(path)], input="uci\n", capture_output=True,
                          text=True, timeout=60, env=ENV)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("transcendence uci: ") and str(path) in proc.stderr and message in proc.stderr, \
        proc.stderr


# --- polyglot: UCI to xboard ----------------------------------------------------------------------

def test_polyglot_plays_a_whole_game_with_it_over_xboard(models, stockfish):
    try:
        polyglot = find_engine("polyglot")
    except EngineError:
        pytest.skip("Debian's polyglot is not installed and could not be (`make test` installs it "
                    "with apt-get where this user may: workflow/setup/ensure_polyglot.sh)")
    adapter = Pipe(polyglot, "-noini", "-ec", f"{SCRIPT} uci --model {models['board']}")
    try:
        adapter.send("xboard")
        adapter.send("protover 2")
        assert "usermove=1" in adapter.until("feature usermove")[-1]
        adapter.until("feature done=1")
        adapter.send("new")   # the engine plays Black
        adapter.send("level 0 5 0")
        board = chess.Board()
        while board.outcome(claim_draw=True) is None and board.ply() < MAX_PLIES:
            if board.turn == chess.WHITE:
                move = stockfish.play(board, STOCKFISH_LIMIT).move
                adapter.send(f"usermove {move.uci()}")
            else:
                move = chess.Move.from_uci(adapter.until("move ")[-1].split()[1])
                assert move in board.legal_moves, (move, board.fen())
            board.push(move)
        assert board.outcome(claim_draw=True) is not None
        assert len(board.move_stack[1::2]) >= 5   # the model moved
        adapter.send("quit")
        assert adapter.proc.wait(timeout=30) == 0
    finally:
        adapter.close()


# --- the protocol on the engine in process -------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_a_position_with_no_legal_move_gets_bestmove_0000(loaded, family):
    engine, out = in_process(loaded[family])
    mate = "position startpos moves f2f3 e7e5 g2g4 d8h4"
    lines = said(engine, out, mate, "go")
    assert bestmove(lines) == "0000" and "info string no legal move: checkmate" in lines
    if family == "board":
        lines = said(engine, out, "position fen 7k/5Q2/6K1/8/8/8/8/8 b - - 0 1", "go")
        assert bestmove(lines) == "0000" and "info string no legal move: stalemate" in lines


def test_the_board_family_plays_from_a_fen(loaded):
    engine, out = in_process(loaded["board"])
    fen = "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3"
    board = chess.Board(fen)
    board.push_uci("f1b5")
    lines = said(engine, out, f"position fen {fen} moves f1b5", "go movetime 100")
    assert chess.Move.from_uci(bestmove(lines)) in board.legal_moves


def test_info_lines_give_the_moves_probability_and_the_alternatives(loaded):
    engine, out = in_process(loaded["board"])
    lines = said(engine, out, "setoption name Temperature value 1", "position startpos", "go")
    move = bestmove(lines)
    assert f"info depth 1 time " in "\n".join(lines) and lines[-3].endswith(f" pv {move}")
    report = lines[-2]
    assert report.startswith(f"info string move {move} p ") and " at T=1 " in report
    top = [(m, float(p)) for m, p in (pair.split() for pair in report.split("top at T=1: ")[1].split(", "))]
    assert len(top) == 5 and [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert all(chess.Move.from_uci(m) in chess.Board().legal_moves for m, _ in top)


def test_the_generator_is_one_per_game_and_ucinewgame_moves_to_the_next_seed(loaded):
    model = loaded["board"]
    engine, out = in_process(model)
    game = ["setoption name Temperature value 5", "position startpos", "go", "position startpos moves e2e4 e7e5", "go"]
    lines = said(engine, out, "setoption name Seed value 11", *game[:3])
    assert "info string game 0 since Seed 11: its draws come from seed 11" in lines
    a = [bestmove(lines), bestmove(said(engine, out, *game[3:]))]
    lines = said(engine, out, "ucinewgame", *game[1:3])
    assert f"info string game 1 since Seed 11: its draws come from seed {game_seed(11, 1)}" in lines
    b = [bestmove(lines), bestmove(said(engine, out, *game[3:]))]
    lines = said(engine, out, "setoption name Seed value 11", "ucinewgame", *game[1:3])
    assert "since Seed 11: its draws come from seed 11" in lines[0]   # Seed set again: its first game
    assert [bestmove(lines), bestmove(said(engine, out, *game[3:]))] == a != b


def test_a_position_that_does_not_continue_the_last_is_said_to(loaded):
    engine, out = in_process(loaded["board"])
    said(engine, out, "position startpos", "go")
    lines = said(engine, out, "position startpos", "go")  # asked twice (a takeback)
    assert any("does not continue the last one searched" in line for line in lines)
    played = bestmove(lines)
    lines = said(engine, out, f"position startpos moves {played} e7e5", "go")
    assert not any("does not continue" in line for line in lines)


def test_ponder_answers_at_ponderhit_and_a_ponder_miss_draws_nothing(loaded):
    model = loaded["board"]
    engine, out = in_process(model)
    lines = said(engine, out, "setoption name Temperature value 5", "position startpos moves e2e4", "go ponder")
    assert not any(line.startswith("bestmove") for line in lines)
    assert chess.Move.from_uci(bestmove(said(engine, out, "ponderhit"))) in engine.board.legal_moves
    # A miss: stop answers, and the game's stream is as if the ponder never happened.
    missed, out_missed = in_process(model)
    said(missed, out_missed, "setoption name Temperature value 5", "position startpos moves d2d4", "go ponder")
    bestmove(said(missed, out_missed, "stop"))
    plain, out_plain = in_process(model)
    said(plain, out_plain, "setoption name Temperature value 5")
    after = "position startpos moves e2e4"
    assert [bestmove(said(missed, out_missed, after, "go")) for _ in range(3)] == \
        [bestmove(said(plain, out_plain, after, "go")) for _ in range(3)]


def test_go_infinite_holds_bestmove_until_stop_and_other_limits_do_not(loaded):
    engine, out = in_process(loaded["text"])
    for limits in ("wtime 60000 btime 60000 winc 1000 binc 1000 movestogo 40", "depth 20", "nodes 1000000",
                   "movetime 5000", "mate 3", ""):
        bestmove(said(engine, out, "position startpos", f"go {limits}"))
    lines = said(engine, out, "position startpos", "go infinite")
    assert not any(line.startswith("bestmove") for line in lines)
    assert said(engine, out, "go")[0].startswith("info string go while the last search waits for stop")
    assert said(engine, out, "isready") == ["readyok"]
    assert bestmove(said(engine, out, "stop")) and said(engine, out, "stop") == []


def test_per_character_with_no_legal_move_in_its_tries_plays_a_legal_moves_draw():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=63)).eval()  # untrained: it cannot spell
    engine, out = in_process(model)
    lines = said(engine, out, "setoption name Mode value per_character", "setoption name MaxTries value 2",
                 "setoption name Temperature value 1", "position startpos", "go")
    assert chess.Move.from_uci(bestmove(lines)) in chess.Board().legal_moves
    assert "info string per_character: no legal move in 2 tries (a forfeit in the evaluation); " \
           "the move is a legal_moves draw" in lines


def test_a_game_past_the_text_models_context_reads_its_last_plies():
    sans = ["e4", "e5", "Nf3", "Nc6", "Bb5", "a6", "Ba4", "Nf6", "O-O", "Be7", "Re1", "b5", "Bb3", "d6"] * 3
    for plies in (len(sans), len(sans) - 1):
        window = context_window(sans[:plies], 63)
        assert len(window) % 2 == plies % 2 and window == sans[plies - len(window):plies]
        assert len(prompt_for(window)) + MAX_MOVE_CHARS <= 63 < len(prompt_for(sans[plies - len(window) - 2:plies])) \
            + MAX_MOVE_CHARS
    assert context_window(sans[:4], 63) == sans[:4]


# --- malformed input ------------------------------------------------------------------------------

def test_an_unknown_command_or_token_is_ignored_naming_it(loaded):
    engine, out = in_process(loaded["board"])
    assert said(engine, out, "xyzzy 1 2") == ["info string unknown command 'xyzzy 1 2' ignored"]
    assert said(engine, out, "joho isready") == ["info string unknown token(s) 'joho' ignored", "readyok"]
    assert said(engine, out, "", "   ", "debug on", "register later") == []
    lines = said(engine, out, "position startpos junk moves e2e4", "go searchmoves d7d5 wibble depth x")
    assert "info string unknown token(s) 'junk' in position ignored" in lines
    assert "info string go: searchmoves ignored: the model draws from every legal move" in lines
    assert "info string go: unknown token 'wibble' ignored" in lines
    assert "info string go: depth needs a whole number; ignored" in lines
    assert engine.board.move_stack == [chess.Move.from_uci("e2e4")]
    assert engine.handle("quit") is False


@pytest.mark.parametrize("family, position, error", [
    ("board", "position fen rnbqkbnr/pppppppp/8/8 w KQkq - 0 1", "bad FEN"),
    ("board", "position fen 8/8/8/8/8/8/8/8 w - - 0 1", "is not a legal position (no white king, no black king, empty)"),
    ("board", "position startpos moves e2e4 e7e5 e1e3", "move 3 of the position, 'e1e3', is not legal"),
    ("board", "position startpos moves e2e4 zz99", "move 2 of the position, 'zz99', is not legal"),
    ("board", "position startpos moves e2e4 0000", "move 2 of the position, '0000', is not legal"),
    ("board", "position", "position needs `startpos` or `fen <fen>`"),
    ("board", "position fenn x", "position needs `startpos` or `fen <fen>`"),
    ("text", "position fen r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3",
     "the text family reads a game's moves from the standard start position"),
])
def test_a_bad_position_is_refused_whole_and_the_engine_plays_on(loaded, family, position, error):
    engine, out = in_process(loaded[family])
    said(engine, out, "position startpos moves d2d4")
    kept = engine.board.fen()
    lines = said(engine, out, position)
    assert len(lines) == 1 and lines[0].startswith("info string error: ") and error in lines[0], lines
    assert lines[0].endswith(f"the position is still {kept}")
    assert engine.board.fen() == kept
    assert chess.Move.from_uci(bestmove(said(engine, out, "go"))) in chess.Board(kept).legal_moves


def test_the_text_family_takes_the_standard_start_as_a_fen(loaded):
    engine, out = in_process(loaded["text"])
    lines = said(engine, out, f"position fen {chess.STARTING_FEN} moves e2e4", "go")
    assert not any("error" in line for line in lines) and bestmove(lines)


@pytest.mark.parametrize("family, option, value, error", [
    ("board", "Temperature", "hot", "Temperature must be a positive number, not 'hot'"),
    ("board", "Temperature", "0", "Temperature must be a positive number, not '0'"),
    ("board", "Temperature", "-1", "Temperature must be a positive number"),
    ("board", "Temperature", "nan", "Temperature must be a positive number"),
    ("board", "Temperature", "inf", "Temperature must be a positive number"),
    ("board", "Seed", "-1", "Seed must be a whole number from 0 to"),
    ("board", "Seed", "1e3", "Seed must be a whole number from 0 to"),
    ("board", "Seed", str(2 ** 64), "Seed must be a whole number from 0 to"),
    ("board", "Threads", "0", "Threads must be from 1 to"),
    ("board", "Hash", "lots", "Hash must be a whole number, not 'lots'"),
    ("text", "Mode", "sideways", "Mode must be one of legal_moves, per_character, not 'sideways'"),
    ("text", "MaxTries", "0", "MaxTries must be from 1 to 100, not 0"),
])
def test_a_bad_option_value_leaves_the_option_as_it_was(loaded, family, option, value, error):
    engine, out = in_process(loaded[family])
    before = (engine.player.temperature, engine.player.mode, engine.player.max_tries, engine.seed,
              torch.get_num_threads())
    lines = said(engine, out, f"setoption name {option} value {value}")
    assert len(lines) == 1 and lines[0].startswith(f"info string error: {error}"), lines
    assert lines[0].endswith(f"; {option} unchanged")
    assert (engine.player.temperature, engine.player.mode, engine.player.max_tries, engine.seed,
            torch.get_num_threads()) == before


def test_options_take_effect_whatever_the_case_of_their_name(loaded):
    engine, out = in_process(loaded["text"])
    threads = torch.get_num_threads()
    try:
        assert said(engine, out, "setoption name temperature value 0.5", "setoption name MODE value per_character",
                    "setoption name Seed value 123", "setoption name Threads value 2",
                    "setoption name Hash value 64") == []
        assert (engine.player.temperature, engine.player.mode, engine.seed) == (0.5, "per_character", 123)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert said(engine, out, "setoption name Skill Level value 3") == ["info string unknown option 'Skill Level' ignored"]
    assert said(engine, out, "setoption Temperature 1")[0].startswith("info string error: setoption needs `name")
    board, board_out = in_process(loaded["board"])
    assert said(board, board_out, "setoption name Mode value per_character") == \
        ["info string unknown option 'Mode' ignored"]


# --- the benchmark, at its smallest, so it cannot rot ----------------------------------------------

def test_the_benchmark_runs_and_its_engine_plays_the_players_moves(tmp_path):
    out = tmp_path / "uci.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "uci_engine.py"), "--plies", "2", "--starts", "1",
                           "--text-layers", "1", "--text-width", "32", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["import_torch_s"] > 0
    for family in FAMILIES:
        row = result[family]
        assert row["same_moves_in_process"] is True and row["plies"] == 2
        assert min(row["uciok_s"], row["policy_step_ms"], row["player_ms"], row["engine_go_ms"]) > 0
        assert row["readyok_s"] >= row["uciok_s"] and row["engine_over_policy"] > 0
    assert "engine/policy" in proc.stdout

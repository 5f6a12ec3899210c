"""Evaluation: a trained model plays a Stockfish opponent at one temperature (one shard).

The paper's protocol (docs/PROTOCOL.md): the model is White in half the games and Black in the other half;
games still running after ``max_fullmoves`` full moves are draws (the context limit); a
model that cannot produce a legal move in ``max_tries`` tries forfeits; a result string is
a resignation. Every game is written as PGN, with headers that say who played, at which
temperature and level, with which seed, engine, engine options and engine restarts, and how
the game ended, plus one row per game in a CSV table that the rating stage reads.
With an opening suite (``openings``, :mod:`.openings`; issue 27), games ``2i`` and ``2i + 1``
start with opening ``i``, colours swapped: its moves are the first of the game's movetext
(from the initial position, so no FEN header), two headers name it (``Opening``,
``OpeningPlies``), and its plies count in the ``plies`` column and toward the move limit.

Many games at once (``batch_games``): the shard's games advance together; each model step
is one batched forward pass for every game whose turn it is (the family's ``batch_policy``), and the
engine's turns search in a pool of Stockfish processes, one per thread, each search
starting from a cleared engine (``engine_pool``). Where the opponent is reproducible, each
model step waits for every search in flight, so the batches, and with them the last bits of
every logit, do not depend on the machine's timing (``play_games``' lockstep). Each
game's randomness comes from its own seed (the game's index in the shard), so one game at a
time, many at once, and a resumed shard all hold the same games wherever the opponent's
limit is depth or nodes (a time limit, and Stockfish's Skill Level, which Stockfish seeds
from the clock, are not reproducible; the log says so).

Finished games are appended to ``<output>.partial`` files as they end, in whatever order
they end; a shard that is killed resumes from there without replaying them, and the final
PGN and table list the games in order. A resumed shard must hold only games the current run
would have played, so the partial files carry a fingerprint of everything that decides a
game (``<table>.partial.fingerprint.json``: the checkpoint's sha256, the mode, temperature,
tries and move limit, the opponent and its limit, the engine and its options, the seed, and
an opening suite with its file's sha256 where there is one) and are discarded, with a log
line saying what changed, when it differs. Rows past ``games``, a torn last row, and a row
whose PGN is missing are dropped; every row and PGN names the checkpoint's sha256, so a
table says which model played.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, TextIO

import chess
import torch

from ..engine.pool import EnginePool
from ..engine.uci import SEARCH_MARGIN, stop_engines_on_sigterm
from ..families import MovePolicy, Request, family_of, load_model
from ..files import atomic_text, file_sha256, write_json
from ..game_row import GAME_ROW_COLUMNS
from ..pgn.text import format_pgn
from ..players.player import Player
from ..seeds import game_seed
from .openings import Opening, Openings


@dataclass(eq=False)
class Game:
    """One game in flight: its identity, its own random streams, its position."""

    index: int
    model_white: bool
    seed: int
    slot: int = -1
    board: chess.Board = field(default_factory=chess.Board)
    sans: list[str] = field(default_factory=list)
    moves_uci: list[str] = field(default_factory=list)
    illegal: int = 0
    engine_restarts: int = 0
    result: str = ""
    termination: str = ""
    opening: Opening | None = None  # moves from the initial position played before the game

    def __post_init__(self) -> None:
        # Two streams, both from the game's seed: the model's draws and the opponent's eps
        # moves. Nothing else is random, so a game is the same whatever it is batched with.
        self.gen = torch.Generator().manual_seed(self.seed)
        self.rng = random.Random(self.seed)
        # The opening is part of the game (its PGN, the text family's prompt, the engine's
        # move list, the move limit); it draws nothing from the game's streams.
        for move in self.opening.uci if self.opening is not None else ():
            self.push(chess.Move.from_uci(move))

    @property
    def model_turn(self) -> bool:
        return self.board.turn == (chess.WHITE if self.model_white else chess.BLACK)

    def push(self, move: chess.Move) -> None:
        self.sans.append(self.board.san(move))
        self.moves_uci.append(move.uci())
        self.board.push(move)

    def end(self, result: str, termination: str) -> None:
        self.result, self.termination = result, termination

    def model_loses(self, termination: str) -> None:
        self.end("0-1" if self.model_white else "1-0", termination)


def play_games(policy: MovePolicy, engines: EnginePool, opponent: Player, games: Iterable[Game], *,
               max_fullmoves: int, on_finish: Callable[[Game], None], lockstep: bool = True) -> None:
    """Play ``games``, as many at once as the policy has slots, calling ``on_finish`` as each ends.

    The loop: start games on free slots; move every game as far as it goes without the
    model or the engine (random eps moves, game over); send the engine's turns to the pool
    (they search in threads meanwhile); run one batched model step for every game whose
    turn it is; apply the engine's moves.

    ``lockstep`` (the default) waits for every search in flight before each model step, so
    which games share a step is a function of the games alone. That matters because a
    row's logits differ in their last bits with the batch around it (measured on the board
    network: 1 row in 64 by 2.6e-8), enough to turn a draw now and then; without lockstep the
    engine moves that happen to be ready join the next step, and the machine's load decides
    the batches, so a loaded run could play other games than a quiet one. Overlapping model
    steps with searches (``lockstep=False``) is for opponents that are not reproducible
    anyway (a time limit, a Skill Level), where it saves a search's wait per step.
    """
    queue = deque(games)
    free = list(range(policy.slots))[::-1]
    active: dict[int, Game] = {}
    searching: dict[Future, Game] = {}

    def advance(game: Game) -> bool:
        """Make the moves that need neither model nor engine; True when the model is to move."""
        while True:
            if game.board.is_game_over(claim_draw=False):
                game.end(game.board.result(claim_draw=False), "normal")
                return False
            if game.board.fullmove_number > max_fullmoves:
                game.end("1/2-1/2", "move limit")
                return False
            if game.model_turn:
                return True
            mistake = opponent.mistake(game.board, game.rng)
            if mistake is not None:
                game.push(mistake)
                continue
            searching[engines.submit(game.moves_uci, opponent.limit, game.board)] = game
            return False

    def collect(done: Iterable[Future]) -> None:
        for future in done:
            game = searching.pop(future)
            move, restarts = future.result()
            game.engine_restarts += restarts
            game.push(chess.Move.from_uci(move))
            advance(game)

    while queue or active:
        while queue and free:
            game = queue.popleft()
            game.slot = free.pop()
            policy.new_game(game.slot)
            active[game.slot] = game
            advance(game)
        if lockstep and searching:
            wait(list(searching))
            collect(list(searching))  # in the order they were sent, which the games decide
        waiting = set(searching.values())
        turn = [g for g in active.values() if not g.result and g not in waiting and g.model_turn]
        if turn:
            choices = policy.step([Request(g.slot, g.board, g.sans, g.gen) for g in turn])
            for slot, choice in choices.items():
                game = active[slot]
                game.illegal += choice.illegal
                if choice.context_full:
                    game.end("1/2-1/2", "context limit")
                elif choice.resigned:
                    game.model_loses("resigned")
                elif choice.move is None:
                    game.model_loses("forfeit")
                else:
                    game.push(choice.move)
                    advance(game)
            if not lockstep:
                collect([f for f in list(searching) if f.done()])
        elif searching:
            collect(wait(list(searching), return_when=FIRST_COMPLETED).done)
        for slot in [s for s, g in active.items() if g.result]:
            on_finish(active.pop(slot))
            free.append(slot)


def _score(result: str, model_white: bool) -> float:
    return {"1-0": 1.0, "0-1": 0.0, "1/2-1/2": 0.5}[result] if model_white else \
        {"1-0": 0.0, "0-1": 1.0, "1/2-1/2": 0.5}[result]


def _fingerprint_path(table_part: Path) -> Path:
    return table_part.with_name(table_part.name + ".fingerprint.json")


def _differences(saved: Mapping[str, object], current: Mapping[str, object]) -> list[str]:
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in sorted(set(saved) | set(current))
            if saved.get(k) != current.get(k)]


def _read_partial(table: Path, pgn: Path, games: int) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """Finished games of an interrupted run: their table rows and PGN texts, in the order
    they were appended, and what was dropped (one note per reason).

    A game's PGN is written and synced before its row, so row ``i`` belongs to PGN ``i``;
    the pair must agree on the game (its ``Round`` header). A torn last line (no newline:
    the run died while writing it), a row past ``games``, and a repeated game are dropped.
    """
    if not table.exists() or not pgn.exists():
        return [], [], []
    text = table.read_text(encoding="utf-8", errors="replace")
    notes = []
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
        notes.append("a torn last row")
    reader = csv.DictReader(text.splitlines(keepends=True))
    if reader.fieldnames != GAME_ROW_COLUMNS:
        return [], [], [f"{table} has columns {reader.fieldnames}, not {GAME_ROW_COLUMNS}"]
    rows = list(reader)
    blocks = pgn.read_text(encoding="utf-8", errors="replace").split("\n\n")  # headers, movetext
    texts = [blocks[2 * i] + "\n\n" + blocks[2 * i + 1] + "\n\n" for i in range(len(blocks) // 2)]
    kept_rows, kept_texts, seen = [], [], set()
    past = 0
    for i, row in enumerate(rows):
        try:
            index = int(row["game"])
        except (TypeError, ValueError):
            return [], [], [f"{table}: row {i + 2} has no game number ({row.get('game')!r})"]
        if i >= len(texts) or f'[Round "{index + 1}"]' not in texts[i]:
            return [], [], [f"{table}: row {i + 2} (game {index}) has no matching game in {pgn}"]
        if index >= games:
            past += 1
            continue
        if index in seen:
            continue
        seen.add(index)
        kept_rows.append(row)
        kept_texts.append(texts[i])
    if past:
        notes.append(f"{past} game(s) past games = {games}")
    return kept_rows, kept_texts, notes


def _resume(table_part: Path, pgn_part: Path, fingerprint: Mapping[str, object], games: int,
            tag: str, log: TextIO) -> tuple[list[dict[str, str]], list[str]]:
    """The finished games a killed run of this same work left, or none.

    Partial files written under another fingerprint (another checkpoint, mode, opponent,
    engine...) or without one are deleted, and the log says why; the kept ones are
    rewritten without what ``_read_partial`` dropped, and the fingerprint is (re)written.
    """
    stamp = _fingerprint_path(table_part)
    rows: list[dict[str, str]] = []
    pgns: list[str] = []
    if table_part.exists() or pgn_part.exists():
        try:
            saved = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if saved is None:
            print(f"{tag} discarding partial results: {stamp} is missing or unreadable, so what "
                  "played those games is unknown", file=log, flush=True)
        elif saved != fingerprint:
            print(f"{tag} discarding partial results of other work ("
                  f"{'; '.join(_differences(saved, fingerprint))})", file=log, flush=True)
        else:
            rows, pgns, notes = _read_partial(table_part, pgn_part, games)
            if notes:
                print(f"{tag} partial results: dropped {'; '.join(notes)}", file=log, flush=True)
    if rows:
        with atomic_text(pgn_part) as fh:
            fh.writelines(pgns)
        _write_table(table_part, rows)
        print(f"{tag} resuming after {len(rows)} finished games", file=log, flush=True)
    else:
        for p in (pgn_part, table_part):
            p.unlink(missing_ok=True)
    write_json(stamp, fingerprint)
    return rows, pgns


def _write_table(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    with atomic_text(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=GAME_ROW_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def options_text(options: Mapping[str, object]) -> str:
    """UCI options as one header value, e.g. ``Threads=1, Hash=16, Skill Level=3``."""
    return ", ".join(f"{k}={v}" for k, v in options.items())


def run_shard(model_path: str | Path, pgn_out: str | Path, table_out: str | Path, *, cap: int,
              temperature: float, opponent: Player, games: int, seed: int, mode: str,
              max_tries: int, max_fullmoves: int, engine_path: str, threads: int = 1,
              device: str = "cpu", batch_games: int = 1, engine_margin: float = SEARCH_MARGIN,
              family: str | None = None, openings: Openings | None = None,
              log: TextIO = sys.stderr) -> dict[str, object]:
    """Play ``games`` games (alternating colours), ``batch_games`` at a time, resuming from
    partial outputs of the same work; the PGN and table list the games in order whatever
    order they ended in.

    ``openings`` (the cap's file, :func:`~transcendence.play.openings.load_openings`): games
    ``2i`` and ``2i + 1`` start with opening ``i``, the model White in the first; ``games``
    must be even. None (or suite start) is the paper's protocol, every game from the initial
    position, with the same outputs, headers and fingerprint as before openings existed.

    ``threads`` is both the model's CPU threads and the number of engine processes;
    ``engine_margin`` is how many seconds past its limit a search may take before its
    engine is killed and restarted. SIGTERM kills the engines and ends the shard at once.
    ``family`` (the config's ``model.family``), when given, must be the checkpoint's.
    """
    from ..model.device import pick_device

    torch.set_num_threads(threads)
    model_sha256 = file_sha256(model_path)  # the file, not the object: any model family
    model = load_model(model_path, pick_device(device), family=family)
    model_family = family_of(model)
    pgn_out, table_out = Path(pgn_out), Path(table_out)
    pgn_part = pgn_out.with_name(pgn_out.name + ".partial")
    table_part = table_out.with_name(table_out.name + ".partial")
    pgn_out.parent.mkdir(parents=True, exist_ok=True)
    table_out.parent.mkdir(parents=True, exist_ok=True)
    options = opponent.engine_options()
    tag = f"[evaluate cap {cap} T={temperature} {opponent.name}]"
    note = opponent.unreproducible_because
    mistakes_note = opponent.mistakes_note()
    if openings is not None and openings.suite.is_start:
        openings = None
    if openings is not None:
        openings.check_games(games)
    with stop_engines_on_sigterm(), \
            EnginePool(engine_path, options, workers=threads, search_margin=engine_margin) as engines:
        fingerprint = {
            "model_sha256": model_sha256, "cap": cap, "temperature": temperature, "mode": mode,
            "max_tries": max_tries, "max_fullmoves": max_fullmoves, "seed": seed,
            "opponent": opponent.describe(),
            "engine": engines.name, "engine_options": options_text(options), "columns": GAME_ROW_COLUMNS,
            "batches": "lockstep" if opponent.reproducible else "overlap",
            # Only with an opening suite, so the paper's protocol keeps its fingerprint.
            **({"openings": openings.fingerprint()} if openings is not None else {}),
        }
        fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from the file
        done_rows, _ = _resume(table_part, pgn_part, fingerprint, games, tag, log)
        done = {int(r["game"]) for r in done_rows}
        todo = [Game(g, model_white=g % 2 == 0, seed=game_seed(seed, cap, temperature, opponent.name, g),
                     opening=openings.for_game(g) if openings is not None else None)
                for g in range(games) if g not in done]
        slots = max(1, min(batch_games, len(todo)))
        policy = model_family.batch_policy(model, slots=slots, temperature=temperature, mode=mode, max_tries=max_tries)
        started = time.monotonic()
        with open(pgn_part, "a", encoding="utf-8") as pgn_fh, \
                open(table_part, "a", newline="", encoding="utf-8") as table_fh:
            how = "yes; each model step waits for every search (lockstep)" if opponent.reproducible else \
                f"no ({note}); model steps overlap searches"
            print(f"{tag} engine {engines.name!r}, options {options_text(options)}, limit "
                  f"{opponent.limit.to_config()}, {slots} game(s) at once, {threads} engine process(es), each "
                  f"search from a cleared engine; games reproducible from "
                  f"the seed: {how}; checkpoint sha256 {model_sha256}",
                  file=log, flush=True)
            if openings is not None:
                print(f"{tag} openings: suite {openings.suite}, {games // 2} pairs (games 2i and 2i + 1 "
                      f"start with opening i, colours swapped); file sha256 {openings.sha256}",
                      file=log, flush=True)
            writer = csv.DictWriter(table_fh, fieldnames=GAME_ROW_COLUMNS)
            if not done_rows:
                writer.writeheader()
            model_name = model_family.player_name(cap)
            finished = len(done_rows)

            def record(game: Game) -> None:
                nonlocal finished
                headers = {
                    "Event": f"Evaluation cap {cap} T={temperature} vs {opponent.name}",
                    "Site": "transcendence", "Date": "????.??.??", "Round": str(game.index + 1),
                    "White": model_name if game.model_white else opponent.name,
                    "Black": opponent.name if game.model_white else model_name,
                    "Result": game.result, "Cap": str(cap), "Temperature": str(temperature), "Mode": mode,
                    # Only with an opening suite; the movetext holds the opening's moves from the start.
                    **({"Opening": f"{openings.suite.suite} {game.opening.index}",
                        "OpeningPlies": str(openings.suite.plies)} if game.opening is not None else {}),
                    "Opponent": opponent.name, "OpponentRating": str(opponent.rating),
                    "SkillLevel": str(opponent.skill_level), "EngineLimit": str(opponent.limit.to_config()),
                    "OpponentEps": str(opponent.eps),
                    # Only where the opponent departs from the paper's uniform, independent mistakes.
                    **({"OpponentMistakes": mistakes_note} if mistakes_note else {}),
                    "Engine": engines.name,
                    "EngineOptions": options_text(options), "EngineRestarts": str(game.engine_restarts),
                    "Seed": str(game.seed), "IllegalTries": str(game.illegal), "Termination": game.termination,
                    "ModelSHA256": model_sha256,
                }
                # The PGN reaches the disk before its row: a row always has its game.
                pgn_fh.write(format_pgn(headers, game.sans, game.result))
                pgn_fh.flush()
                os.fsync(pgn_fh.fileno())
                writer.writerow({
                    "game": game.index, "model_color": "white" if game.model_white else "black",
                    "result": game.result, "model_score": _score(game.result, game.model_white),
                    "plies": len(game.sans), "termination": game.termination, "illegal_tries": game.illegal,
                    "forfeit": int(game.termination == "forfeit"), "cap": cap, "temperature": temperature,
                    "mode": mode, "opponent": opponent.name, "opponent_rating": opponent.rating,
                    "engine": engines.name, "engine_options": options_text(options),
                    "engine_restarts": game.engine_restarts, "seed": game.seed, "model_sha256": model_sha256,
                })
                table_fh.flush()
                os.fsync(table_fh.fileno())
                finished += 1
                rate = (finished - len(done_rows)) / max(time.monotonic() - started, 1e-9)
                print(f"{tag} game {game.index + 1} ({finished}/{games} done) {game.result} ({game.termination}, "
                      f"{len(game.sans)} plies, {game.engine_restarts} engine restarts), "
                      f"ETA {(games - finished) / rate:.0f}s", file=log, flush=True)

            play_games(policy, engines, opponent, todo, max_fullmoves=max_fullmoves, on_finish=record,
                       lockstep=opponent.reproducible)
        restarts = engines.restarts
        engine_name = engines.name
    rows, pgns, _ = _read_partial(table_part, pgn_part, games)
    order = sorted(range(len(rows)), key=lambda i: int(rows[i]["game"]))
    if [int(rows[i]["game"]) for i in order] != list(range(games)):
        raise RuntimeError(f"{table_part}: {len(rows)} of {games} games after the shard ended; "
                           "delete the .partial files and run it again")
    with atomic_text(pgn_out) as fh:
        fh.writelines(pgns[i] for i in order)
    _write_table(table_out, [rows[i] for i in order])
    for p in (pgn_part, table_part, _fingerprint_path(table_part)):
        p.unlink()
    seconds = time.monotonic() - started
    print(f"{tag} {len(todo)} games played in {seconds:.1f}s; engine restarts {restarts}", file=log, flush=True)
    return {"games": games, "played": len(todo), "engine": engine_name, "engine_options": options_text(options),
            "engine_restarts": restarts, "batch_games": slots, "seconds": round(seconds, 2),
            "model_sha256": model_sha256, **({"openings": str(openings.suite)} if openings is not None else {})}

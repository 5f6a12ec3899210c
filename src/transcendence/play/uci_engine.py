"""A trained model as a UCI chess engine: the protocol on a text stream, one line at a time.

The engine speaks UCI (``uci``, ``debug``, ``isready``, ``setoption``, ``register``,
``ucinewgame``, ``position``, ``go``, ``stop``, ``ponderhit``, ``quit``; end of input quits
too) and plays with a :class:`~transcendence.play.uci_player.ModelPlayer`, the evaluation's
sampler. The model answers at once: ``go`` with clocks, ``movetime``, ``depth``, ``nodes``
or ``mate`` prints its ``bestmove`` straight away (the limits are read and ignored); ``go
infinite`` and ``go ponder`` hold it until ``stop`` (or ``ponderhit``), as GUIs expect.
The model never searches, so one thread reads the input and nothing blocks a ``stop``.

Options (``setoption name <name> value <value>``; names are not case-sensitive):

- ``Temperature`` (default 0.001, the evaluation's lowest temperature, where the study looks
  for transcendence), a string because UCI has no decimal type;
- ``Seed`` (default 0), the game's seed: what an evaluation game's ``[Seed "..."]`` PGN
  header holds. Setting it starts a game drawn from exactly that seed; each later
  ``ucinewgame`` after a game that has had a move starts the next game with the seed
  ``seeds.game_seed(Seed, n)`` for the n-th game since, so a match of many games does not
  repeat one game. A string, because seeds are 63-bit and GUIs hold spins in 32 bits;
- ``Mode`` and ``MaxTries`` (text family only): ``legal_moves`` (default; never an illegal
  move) or the paper's ``per_character`` with its tries (default 5, the configs'
  ``evaluate.max_tries``), where a forfeit or a resignation becomes a ``legal_moves`` draw;
- ``Threads`` (default 1, as each evaluation job runs) sets torch's threads; ``Hash`` is
  accepted and ignored (the model keeps no table).

One generator per game: every move drawn advances it, so the moves of an evaluation game
come back only when its positions are asked for in order, each after the model's previous
move and the opponent's reply. A GUI that jumps (a takeback, a position searched twice,
analysis of another line) gets moves from the same stream, drawn in another order: an
``info string`` says so when a position does not continue the last one searched.

Bad input is reported and skipped, as UCI asks: an unknown command or token is ignored with
an ``info string`` naming it (the rest of the line is still read); a ``position`` whose FEN
or one of whose moves is illegal is refused whole, with an ``info string`` error, and the
previous position is kept; a bad option value leaves the option as it was. A position with
no legal move gets ``bestmove 0000``.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from typing import Iterable, TextIO

import chess
import torch

from ..families import Family
from ..seeds import game_seed
from .uci_player import Decision, ModelPlayer

COMMANDS = ("uci", "debug", "isready", "setoption", "register", "ucinewgame", "position", "go", "stop",
            "ponderhit", "quit")
GO_VALUES = ("wtime", "btime", "winc", "binc", "movestogo", "depth", "nodes", "mate", "movetime")
GO_FLAGS = ("infinite", "ponder")
MAX_SEED = 2 ** 64 - 1  # torch.Generator.manual_seed's range
PLAYER_SETTINGS = {"Temperature": "temperature", "Mode": "mode", "MaxTries": "max_tries"}
UCI_MOVE = re.compile(r"^([a-h][1-8]){2}[qrbn]?$|^0000$")


@dataclass(frozen=True)
class Option:
    """One UCI option as ``uci`` declares it."""

    name: str
    kind: str                    # spin, string or combo
    default: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()

    def declaration(self) -> str:
        line = f"option name {self.name} type {self.kind} default {self.default}"
        if self.kind == "spin":
            line += f" min {self.low} max {self.high}"
        return line + "".join(f" var {c}" for c in self.choices)


def options_for(family: Family) -> list[Option]:
    """The options of an engine of this model family (a mode to choose where it has two)."""
    options = [Option("Temperature", "string", "0.001"), Option("Seed", "string", "0")]
    if len(family.modes) > 1:
        options += [Option("Mode", "combo", "legal_moves", choices=family.modes),
                    Option("MaxTries", "spin", "5", 1, 100)]
    return options + [Option("Threads", "spin", "1", 1, max(1, os.cpu_count() or 1)),
                      Option("Hash", "spin", "16", 1, 1 << 20)]


def parse_option(option: Option, text: str) -> str | int | float:
    """The value ``text`` gives ``option``, or ``ValueError`` saying what it must be."""
    if option.name == "Temperature":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"Temperature must be a positive number, not {text!r}")
        return value
    if option.name == "Seed":
        if not text.isdigit() or int(text) > MAX_SEED:
            raise ValueError(f"Seed must be a whole number from 0 to {MAX_SEED}, not {text!r}")
        return int(text)
    if option.kind == "combo":
        if text not in option.choices:
            raise ValueError(f"{option.name} must be one of {', '.join(option.choices)}, not {text!r}")
        return text
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{option.name} must be a whole number, not {text!r}") from None
    if not option.low <= value <= option.high:
        raise ValueError(f"{option.name} must be from {option.low} to {option.high}, not {value}")
    return value


class ModelEngine:
    """The UCI protocol around one model; :meth:`handle` takes one input line at a time."""

    def __init__(self, model: torch.nn.Module, *, name: str, out: TextIO) -> None:
        self.player = ModelPlayer(model, temperature=0.001, mode="legal_moves", max_tries=5)
        self.name = name
        self.out = out
        self.options = {o.name.lower(): o for o in options_for(self.player.family)}
        self.seed = 0
        self.game = 0                 # games since Seed was set
        self.moved = False            # whether this game has drawn a move yet
        self.board = chess.Board()
        self.expected: list[chess.Move] | None = None   # the last searched position's moves + the answer
        self.held: str | None = None  # the bestmove line an infinite search prints at stop
        self.pondering = False
        self._new_game()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def info(self, text: str) -> None:
        self.say(f"info string {text}")

    def handle(self, line: str) -> bool:
        """Act on one line of input; False when the engine should quit."""
        tokens = line.split()
        start = next((i for i, t in enumerate(tokens) if t in COMMANDS), None)
        if start is None:
            if tokens:
                self.info(f"unknown command {' '.join(tokens)!r} ignored")
            return True
        if start:
            self.info(f"unknown token(s) {' '.join(tokens[:start])!r} ignored")
        command, args = tokens[start], tokens[start + 1:]
        if command == "quit":
            return False
        getattr(self, f"_{command}")(args)
        return True

    def _uci(self, args: list[str]) -> None:
        self.say(f"id name {self.name}")
        self.say("id author the transcendence reproduction (a model it trained)")
        for option in self.options.values():
            self.say(option.declaration())
        self.say("uciok")

    def _debug(self, args: list[str]) -> None:
        """Accepted: the engine has nothing more to say in debug mode."""

    def _register(self, args: list[str]) -> None:
        """Accepted: nothing to register."""

    def _isready(self, args: list[str]) -> None:
        self.say("readyok")

    def _setoption(self, args: list[str]) -> None:
        if "name" not in args:
            self.info(f"error: setoption needs `name <option>`, got {' '.join(args)!r}")
            return
        rest = args[args.index("name") + 1:]
        split = rest.index("value") if "value" in rest else len(rest)
        name, text = " ".join(rest[:split]), " ".join(rest[split + 1:])
        option = self.options.get(name.lower())
        if option is None:
            self.info(f"unknown option {name!r} ignored")
            return
        try:
            value = parse_option(option, text)
            self._apply(option.name, value)
        except ValueError as exc:
            self.info(f"error: {exc}; {option.name} unchanged")

    def _apply(self, name: str, value: str | int | float) -> None:
        """Set a parsed option; ``ValueError`` (nothing changed) when the player cannot take it."""
        player = self.player
        if name == "Seed":
            self.seed, self.game = int(value), 0
            self._new_game()
        elif name == "Threads":
            torch.set_num_threads(int(value))
        elif name in PLAYER_SETTINGS:
            settings = {"temperature": player.temperature, "mode": player.mode, "max_tries": player.max_tries}
            settings[PLAYER_SETTINGS[name]] = value
            player.configure(**settings)
        # Hash: nothing to size.

    def _ucinewgame(self, args: list[str]) -> None:
        if self.moved:
            self.game += 1
        self._new_game()

    def _new_game(self) -> None:
        self.player.new_game(self.game_seed)
        self.moved = False
        self.expected = None

    @property
    def game_seed(self) -> int:
        """The seed of the game being played: Seed itself for the first game after it was set."""
        return self.seed if self.game == 0 else game_seed(self.seed, self.game)

    def _position(self, args: list[str]) -> None:
        try:
            self.board = self._read_position(args)
        except ValueError as exc:
            self.info(f"error: {exc}; the position is still {self.board.fen()}")

    def _read_position(self, args: list[str]) -> chess.Board:
        if not args or args[0] not in ("startpos", "fen"):
            raise ValueError(f"position needs `startpos` or `fen <fen>`, got {' '.join(args)!r}")
        end = args.index("moves") if "moves" in args else len(args)
        if args[0] == "startpos":
            board = chess.Board()
            if end > 1:
                self.info(f"unknown token(s) {' '.join(args[1:end])!r} in position ignored")
        else:
            fen = " ".join(args[1:end])
            try:
                board = chess.Board(fen)
            except ValueError as exc:
                raise ValueError(f"bad FEN {fen!r} ({exc})") from None
            if not board.is_valid():
                wrong = ", ".join(f.name.lower().replace("_", " ") for f in chess.Status if f and f in board.status())
                raise ValueError(f"FEN {fen!r} is not a legal position ({wrong})")
            if self.player.family.reads_moves and board.epd() != chess.Board().epd():
                raise ValueError(f"the {self.player.family.name} family reads a game's moves from the standard start "
                                 f"position and cannot play from the FEN {fen!r}")
        for ply, text in enumerate(args[end + 1:]):
            try:
                move = board.parse_uci(text)
                if not move:  # python-chess reads 0000 as a null move, which no game has
                    raise ValueError(text)
                board.push(move)
            except ValueError:
                raise ValueError(f"move {ply + 1} of the position, {text!r}, is not legal in "
                                 f"{board.fen()}") from None
        return board

    def _go(self, args: list[str]) -> None:
        if self.held is not None or self.pondering:
            self.info("go while the last search waits for stop: ignored")
            return
        flags = self._read_go(args)
        if "ponder" in flags:
            self.pondering = True    # the move is drawn at ponderhit, or at stop without drawing
            return
        best = self._search()
        if "infinite" in flags:
            self.held = best
        else:
            self.say(best)

    def _read_go(self, args: list[str]) -> set[str]:
        """The flags of a go command; its limits are read (and reported when malformed) only."""
        flags, i = set(), 0
        while i < len(args):
            token = args[i]
            if token in GO_FLAGS:
                flags.add(token)
            elif token in GO_VALUES:
                if i + 1 >= len(args) or not args[i + 1].lstrip("-").isdigit():
                    self.info(f"go: {token} needs a whole number; ignored")
                else:
                    i += 1
            elif token == "searchmoves":
                while i + 1 < len(args) and UCI_MOVE.match(args[i + 1]):
                    i += 1
                self.info("go: searchmoves ignored: the model draws from every legal move")
            else:
                self.info(f"go: unknown token {token!r} ignored")
            i += 1
        return flags

    def _stop(self, args: list[str]) -> None:
        if self.pondering:
            # The opponent did not play the expected move: answer, but leave the game's
            # stream as it was, since this move is never played.
            self.pondering = False
            state, expected, moved = self.player.gen.get_state(), self.expected, self.moved
            best = self._search()
            self.player.gen.set_state(state)
            self.expected, self.moved = expected, moved
            self.say(best)
        elif self.held is not None:
            self.say(self.held)
            self.held = None

    def _ponderhit(self, args: list[str]) -> None:
        if self.pondering:
            self.pondering = False
            self.say(self._search())

    def _search(self) -> str:
        """Draw the model's move in the current position, report it, and return the bestmove line."""
        board = self.board
        if not any(board.legal_moves):
            self.info(f"no legal move: {'checkmate' if board.is_check() else 'stalemate'}")
            return "bestmove 0000"
        if not self.moved:
            self.info(f"game {self.game} since Seed {self.seed}: its draws come from seed {self.game_seed}")
        elif self.expected is not None and board.move_stack[:len(self.expected)] != self.expected:
            self.info("this position does not continue the last one searched: the moves are drawn "
                      "from this game's stream in another order than an evaluation game's")
        started = time.perf_counter()
        decision = self.player.choose(board)
        ms = round(1000 * (time.perf_counter() - started))
        self.moved = True
        self.expected = [*board.move_stack, decision.move]
        for note in decision.notes:
            self.info(note)
        self.say(f"info depth 1 time {ms} pv {decision.move.uci()}")
        self.info(describe(decision, self.player.temperature))
        return f"bestmove {decision.move.uci()}"


def describe(decision: Decision, temperature: float) -> str:
    """The move's probabilities and the model's likeliest moves, for an ``info string``."""
    top = ", ".join(f"{m.uci()} {p:.3f}" for m, p in decision.top)
    return (f"move {decision.move.uci()} p {decision.probability:.4f} at T={temperature:g} "
            f"({decision.model_probability:.4f} at T=1); top at T=1: {top}")


def serve(engine: ModelEngine, lines: Iterable[str]) -> None:
    """Feed ``lines`` (a stream read one line at a time) to ``engine`` until quit or their end."""
    for line in lines:
        if not engine.handle(line):
            return

"""The model's move in one position of a game, drawn as the evaluation draws it.

A :class:`ModelPlayer` plays one game at a time with the evaluation's own policy for the
model's family (its ``batch_policy``, one slot) and one random generator per game,
seeded as an evaluation game seeds its own (``evaluate.Game``) and advanced by every draw
of the game's moves, in order. Asked for the moves of an evaluation game in that game's
order, seeded with the game's ``Seed`` header, at its temperature and mode, it plays that
game's moves (to the last bits of a batched forward pass: ``batch_policy``'s docstring).

Where the evaluation would end the game, the player still moves, because a chess program
must, and says so in the decision's notes:

- ``per_character`` with no legal move in ``max_tries`` tries (the evaluation's forfeit) or
  with a result string written (its resignation): the move is drawn in ``legal_moves`` mode,
  from the same generator;
- a text-family game that has outgrown the model's context (the evaluation calls it a draw):
  the model reads the game's last plies that fit, numbered from move 1, as many as keep the
  side to move on the right move number.

Each decision also carries the model's probabilities over the legal moves (their
``legal_moves`` scores, at the temperature and at T = 1), which draw nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import chess
import torch

from ..pgn.text import prompt_for
from ..families import Request, family_of
from ..families.sampling import MAX_MOVE_CHARS, Choice, check_sampling


@dataclass(frozen=True)
class Decision:
    """The move chosen in one position and how likely the model found it and its rivals."""

    move: chess.Move
    probability: float                           # the chance of drawing it at the temperature
    model_probability: float                     # the model's own (T = 1)
    top: tuple[tuple[chess.Move, float], ...]    # the likeliest legal moves at T = 1
    notes: tuple[str, ...] = ()


def sans_of(board: chess.Board) -> list[str]:
    """The SAN of every move of ``board``'s move stack, from its root."""
    replay = board.root()
    sans = []
    for move in board.move_stack:
        sans.append(replay.san(move))
        replay.push(move)
    return sans


def context_window(sans: list[str], context: int) -> list[str]:
    """The most recent plies of ``sans`` whose prompt fits ``context`` characters with a
    move's room after it, as many of the same parity as ``len(sans)`` (so the prompt's
    numbering puts the side to move's move after a move number, or after White's move)."""
    keep = len(sans)
    while keep > 1 and len(prompt_for(sans[len(sans) - keep:])) + MAX_MOVE_CHARS > context:
        keep -= 2
    return sans[len(sans) - keep:]


def decide(policy, request) -> Choice:
    """The policy's choice for one game, stepping it as the evaluation does until it decides
    (a per-character turn takes one step per character)."""
    while True:
        decided = policy.step([request])
        if request.slot in decided:
            return decided[request.slot]


class ModelPlayer:
    """A trained model of either family, playing one game at a time as the evaluation plays it."""

    def __init__(self, model: torch.nn.Module, *, temperature: float, mode: str, max_tries: int,
                 top: int = 5) -> None:
        self.model = model.eval()
        self.family = family_of(model)
        self.context = self.family.context_length(model)
        self.top = top
        self.gen = torch.Generator().manual_seed(0)
        self.configure(temperature=temperature, mode=mode, max_tries=max_tries)
        # Its own scorer, so that scoring for the report keeps its own state (the text family's prompt cache).
        self._scorer = self.family.move_scorer(model)

    def configure(self, *, temperature: float, mode: str, max_tries: int) -> None:
        """Play at another temperature, mode or number of tries from the next move on; the
        game's generator goes on. ``ValueError`` (and nothing changed) for what cannot play."""
        check_sampling(mode, temperature)
        if mode not in self.family.modes:
            raise ValueError(f"the {self.family.name} family samples over legal moves only, not in {mode!r}")
        if max_tries < 1:
            raise ValueError(f"max_tries must be at least 1, got {max_tries}")
        self.policy = self.family.batch_policy(self.model, slots=1, temperature=temperature, mode=mode,
                                               max_tries=max_tries)
        self.fallback = self.policy if mode == "legal_moves" else self.family.batch_policy(
            self.model, slots=1, temperature=temperature, mode="legal_moves", max_tries=max_tries)
        self.temperature, self.mode, self.max_tries = temperature, mode, max_tries

    def new_game(self, seed: int) -> None:
        """Start a game whose draws come from ``seed``, as the evaluation's game of that seed."""
        self.gen = torch.Generator().manual_seed(seed)
        self.policy.new_game(0)
        self.fallback.new_game(0)

    def choose(self, board: chess.Board) -> Decision:
        """The move in ``board`` (which must have a legal move; the text family reads its move
        stack, which must start from the standard position), one draw of the game's stream."""
        sans = sans_of(board) if self.context is not None else []  # the board network reads the board only
        notes = []
        if self.context is not None:
            window = context_window(sans, self.context)
            if len(window) < len(sans):
                notes.append(f"the game's {len(sans)} plies pass the model's context of {self.context} "
                             f"characters: it reads the last {len(window)} (the evaluation stops here)")
            sans = window
        request = Request(0, board, sans, self.gen)
        choice = decide(self.policy, request)
        if self.mode == "per_character":
            notes.append(self._per_character_note(choice))
        if choice.move is None:
            choice = decide(self.fallback, request)
        moves, scores = self._scores(board, sans)
        at_t = torch.softmax(scores / self.temperature, dim=0)
        at_1 = torch.softmax(scores, dim=0)
        pick = moves.index(choice.move)
        order = torch.argsort(at_1, descending=True)[:self.top].tolist()
        return Decision(choice.move, float(at_t[pick]), float(at_1[pick]),
                        tuple((moves[i], float(at_1[i])) for i in order), tuple(notes))

    def _per_character_note(self, choice: Choice) -> str:
        if choice.resigned:
            return (f"per_character: the model wrote {choice.text!r}, a resignation in the evaluation; "
                    "the move is a legal_moves draw")
        if choice.move is None:
            return (f"per_character: no legal move in {choice.tries} tries (a forfeit in the evaluation); "
                    "the move is a legal_moves draw")
        return f"per_character: wrote {choice.text!r} on try {choice.tries} of {self.max_tries}"

    def _scores(self, board: chess.Board, sans: list[str]) -> tuple[list[chess.Move], torch.Tensor]:
        """Every legal move and its log-score (float64, CPU): softmax of these at T is the
        ``legal_moves`` policy."""
        moves, scores = self._scorer.legal_move_scores(board, sans)
        return moves, scores.detach().cpu().double()

"""The two sampling protocols, written once: every family's policies and samplers use these.

The families differ in how they feed their model (the text family's policies in
:mod:`.text`, the board network's in :mod:`.board`), never in what a sample means, which
lives here:

``per_character`` (the paper's protocol): characters are drawn one at a time at the
temperature (:func:`sample`, :func:`draw`) until a space or ``MAX_MOVE_CHARS`` characters
(:func:`try_ends`); the text is read as SAN by :func:`read_move`: a legal move, a result
string (a resignation), or no move (the try is illegal).

``legal_moves`` (the theory's setting): every legal move's text with its closing space
(:func:`move_tokens`) is scored by its total log-probability under the model
(:func:`total_log_probs`), and one move is drawn at the temperature over those scores. A
family that reads the board scores the legal moves itself and samples the same way
(:class:`ScoredMoves`).

Draws are made on the CPU in float64, so a CPU generator gives the same draws whatever
device ran the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import chess
import torch

from ..pgn.vocab import SPACE_ID, encode

MODES = ("per_character", "legal_moves")
MAX_MOVE_CHARS = 10          # the longest SAN with its marks is 7 characters, e.g. "exd8=Q#"
RESULT = re.compile(r"^(1-0|0-1|1/2|0-$|1-$)")


@dataclass
class Choice:
    """What the model did on one turn."""

    move: chess.Move | None
    tries: int = 1            # samples drawn (per_character); 1 in legal_moves mode
    illegal: int = 0          # illegal or unparsable samples among them
    resigned: bool = False
    context_full: bool = False
    text: str = ""


def check_sampling(mode: str, temperature: float) -> None:
    """Refuse a mode or temperature no policy can play with, naming it."""
    if mode not in MODES:
        raise ValueError(f"unknown evaluation mode {mode!r}; use one of {MODES}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")


def _probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(logits.detach().cpu().double() / temperature, dim=-1)


def sample(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> int:
    """One index drawn from softmax(logits / T) of a 1-D tensor of logits or scores."""
    return int(torch.multinomial(_probabilities(logits, temperature), 1, generator=gen).item())


def draw(logits: torch.Tensor, temperature: float, n: int | None, gen: torch.Generator) -> torch.Tensor:
    """Draws from softmax(logits / T): ``n`` from one distribution (with replacement), or
    one per row of a batch of distributions when ``n`` is None."""
    probs = _probabilities(logits, temperature)
    if n is None:
        return torch.multinomial(probs, 1, generator=gen)[:, 0]
    return torch.multinomial(probs, n, replacement=True, generator=gen)


def try_ends(token: int, chars_so_far: int) -> bool:
    """Whether a per-character try ends with this draw: at a space, or at the length limit
    (``chars_so_far`` characters already drawn, this one included when it is not a space)."""
    return token == SPACE_ID or chars_so_far >= MAX_MOVE_CHARS


def read_move(board: chess.Board, text: str) -> tuple[chess.Move | None, bool]:
    """A try's text read as a move: (move, False); (None, True) for a result string, which is
    a resignation; (None, False) when it names no legal move (unparsable, illegal, ambiguous,
    or python-chess's null move "--", which is no move)."""
    if RESULT.match(text):
        return None, True
    try:
        move = board.parse_san(text)
    except ValueError:
        return None, False
    return (move if move else None), False


def move_tokens(board: chess.Board, moves: Sequence[chess.Move]) -> list[list[int]]:
    """Each move's SAN with its closing space, as token ids: the text a move's score covers."""
    return [encode(board.san(m) + " ").tolist() for m in moves]


def total_log_probs(prompt_logits: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor,
                    follow: torch.Tensor | None) -> torch.Tensor:
    """Each candidate's total log-probability (float64), on the device of its inputs.

    ``tokens`` (candidates, width) holds the candidates' tokens, right-padded; ``lengths``
    their lengths; the first token is scored by the prompt's last logits, and ``follow``
    (candidates, width - 1) holds the model's log-probability of each later token given the
    ones before it (None when every candidate is one token long); padding is masked out.
    """
    score = torch.log_softmax(prompt_logits.double(), dim=-1)[tokens[:, 0]]
    if follow is None:
        return score
    width = tokens.shape[1]
    mask = torch.arange(1, width, device=follow.device)[None, :] < lengths[:, None]
    return score + (follow * mask).sum(dim=1)


class ScoredMoves:
    """A position's legal moves and the model's log-scores of them, sampled from at any
    temperature (``legal_moves`` mode, for any family)."""

    def __init__(self, moves: list[chess.Move], scores: torch.Tensor) -> None:
        self.moves, self.scores = moves, scores

    def moves_at(self, temperature: float, n: int, gen: torch.Generator) -> list[chess.Move | None]:
        """``n`` moves drawn at ``temperature`` (with replacement)."""
        return [self.moves[i] for i in draw(self.scores, temperature, n, gen).tolist()]

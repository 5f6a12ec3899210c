"""How a trained model chooses a move: the paper's per-character sampling, or whole moves.

``per_character`` (the paper's protocol, the default of ``config/paper.yaml``): prompt
``;`` + movetext so far, sample characters one at a time at the temperature until the first
space, parse the text as SAN; an illegal or unparsable move is resampled, up to
``max_tries`` tries in all, after which the game is forfeited; a result string is a
resignation.

``legal_moves`` (the theory's setting): every legal move's text, with its terminating space,
is scored by its total log-probability under the model, and one move is sampled with the
temperature applied to those scores. It never forfeits, which makes a tiny model trained
for minutes measurable at all.

Both reuse the prompt's key/value cache, so each try costs a few one-token steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import chess
import torch

from ..model.gpt import GPT
from ..pgn.text import prompt_for
from ..pgn.vocab import SPACE_ID, VOCAB, encode

MODES = ("per_character", "legal_moves")
MAX_MOVE_CHARS = 10          # the longest SAN with its marks is 7 characters, e.g. "exd8=Q#"
_RESULT = re.compile(r"^(1-0|0-1|1/2|0-$|1-$)")


@dataclass
class Choice:
    """What the model did on one turn."""

    move: chess.Move | None
    tries: int = 1            # samples drawn (per_character); 1 in legal_moves mode
    illegal: int = 0          # illegal or unparsable samples among them
    resigned: bool = False
    context_full: bool = False
    text: str = ""


def _sample(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> int:
    # On the CPU, so a CPU generator gives the same draws whatever device ran the model.
    probs = torch.softmax(logits.detach().cpu().double() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=gen).item())


def check_sampling(mode: str, temperature: float) -> None:
    """Refuse a mode or temperature no policy can play with, naming it."""
    if mode not in MODES:
        raise ValueError(f"unknown evaluation mode {mode!r}; use one of {MODES}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")


class ModelPolicy:
    """A trained model that plays moves at one temperature in one mode."""

    def __init__(self, model: GPT, *, temperature: float, mode: str = "per_character", max_tries: int = 5) -> None:
        check_sampling(mode, temperature)
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.temperature = temperature
        self.mode = mode
        self.max_tries = max_tries
        self.context = model.config.block_size
        # The prompt of the model's previous turn, with its cache and last logits: each prompt
        # extends the previous one of the same game, so only the new characters are computed.
        self._ids: list[int] = []
        self._state: tuple[torch.Tensor, list] | None = None

    def _prompt(self, sans: list[str]):
        """The model's state after the prompt: (last logits, cache), or None when full."""
        ids = encode(prompt_for(sans)).tolist()
        if len(ids) + MAX_MOVE_CHARS > self.context:
            return None
        known = len(self._ids)
        if self._state is not None and 0 < known <= len(ids) and ids[:known] == self._ids:
            if known == len(ids):
                return self._state
            new = torch.tensor([ids[known:]], device=self.device)
            logits, _, cache = self.model(new, past=self._state[1])
        else:
            logits, _, cache = self.model(torch.tensor([ids], device=self.device))
        self._ids, self._state = ids, (logits[0, -1], cache)
        return self._state

    @torch.no_grad()
    def choose(self, board: chess.Board, sans: list[str], gen: torch.Generator) -> Choice:
        state = self._prompt(sans)
        if state is None:
            return Choice(None, tries=0, context_full=True)
        if self.mode == "legal_moves":
            moves, scores = self._score_legal(board, *state)
            pick = _sample(scores, self.temperature, gen)
            return Choice(moves[pick], text=board.san(moves[pick]))
        return self._choose_characters(board, *state, gen)

    @torch.no_grad()
    def legal_move_scores(self, board: chess.Board, sans: list[str]) -> tuple[list[chess.Move], torch.Tensor]:
        """Every legal move and its total log-probability (SAN and the closing space)."""
        state = self._prompt(sans)
        if state is None:
            raise ValueError(f"the game after {len(sans)} plies no longer fits the model's context")
        return self._score_legal(board, *state)

    def _choose_characters(self, board: chess.Board, last: torch.Tensor, cache, gen: torch.Generator) -> Choice:
        illegal = 0
        for attempt in range(1, self.max_tries + 1):
            chars: list[str] = []
            logits, past = last, cache
            for _ in range(MAX_MOVE_CHARS):
                token = _sample(logits, self.temperature, gen)
                if token == SPACE_ID:
                    break
                chars.append(VOCAB[token])
                out, _, past = self.model(torch.tensor([[token]], device=self.device), past=past)
                logits = out[0, -1]
            text = "".join(chars)
            if _RESULT.match(text):
                return Choice(None, tries=attempt, illegal=illegal, resigned=True, text=text)
            try:
                move = board.parse_san(text)
            except ValueError:
                move = None
            if not move:  # unparsable, illegal, or python-chess's null move "--": no move
                illegal += 1
                continue
            return Choice(move, tries=attempt, illegal=illegal, text=text)
        return Choice(None, tries=self.max_tries, illegal=illegal)

    def _score_legal(self, board: chess.Board, last: torch.Tensor, cache) -> tuple[list[chess.Move], torch.Tensor]:
        moves = list(board.legal_moves)
        texts = [board.san(m) + " " for m in moves]
        ids = [encode(t) for t in texts]
        width = max(len(t) for t in ids)
        batch = torch.full((len(moves), width), SPACE_ID, dtype=torch.long)
        for row, t in enumerate(ids):
            batch[row, :len(t)] = torch.from_numpy(t.astype("int64"))
        batch = batch.to(self.device)
        first = torch.log_softmax(last.double(), dim=-1)[batch[:, 0]]
        score = first.clone()
        if width > 1:
            out, _, _ = self.model(batch[:, :-1], past=cache)
            logp = torch.log_softmax(out.double(), dim=-1)
            follow = logp.gather(2, batch[:, 1:, None])[..., 0]
            lengths = torch.tensor([len(t) for t in ids], device=self.device)
            mask = torch.arange(1, width, device=self.device)[None, :] < lengths[:, None]
            score = score + (follow * mask).sum(dim=1)
        return moves, score

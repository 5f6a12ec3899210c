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

Both reuse the prompt's key/value cache, so each try costs a few one-token steps. What a
sample means (the protocols themselves) is written once, in :mod:`.sampling`.
"""

from __future__ import annotations

import chess
import torch

from ...model.gpt import GPT
from ...pgn.text import prompt_for
from ...pgn.vocab import SPACE_ID, VOCAB, encode
from ..sampling import MAX_MOVE_CHARS, Choice, check_sampling, move_tokens, read_move, sample, total_log_probs, try_ends


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
            pick = sample(scores, self.temperature, gen)
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
            while True:
                token = sample(logits, self.temperature, gen)
                if token != SPACE_ID:
                    chars.append(VOCAB[token])
                if try_ends(token, len(chars)):
                    break
                out, _, past = self.model(torch.tensor([[token]], device=self.device), past=past)
                logits = out[0, -1]
            text = "".join(chars)
            move, resigned = read_move(board, text)
            if resigned:
                return Choice(None, tries=attempt, illegal=illegal, resigned=True, text=text)
            if move is None:
                illegal += 1
                continue
            return Choice(move, tries=attempt, illegal=illegal, text=text)
        return Choice(None, tries=self.max_tries, illegal=illegal)

    def _score_legal(self, board: chess.Board, last: torch.Tensor, cache) -> tuple[list[chess.Move], torch.Tensor]:
        moves = list(board.legal_moves)
        ids = move_tokens(board, moves)
        width = max(len(t) for t in ids)
        batch = torch.full((len(moves), width), SPACE_ID, dtype=torch.long)
        for row, t in enumerate(ids):
            batch[row, :len(t)] = torch.tensor(t)
        batch = batch.to(self.device)
        lengths = torch.tensor([len(t) for t in ids], device=self.device)
        follow = None
        if width > 1:
            out, _, _ = self.model(batch[:, :-1], past=cache)
            logp = torch.log_softmax(out.double(), dim=-1)
            follow = logp.gather(2, batch[:, 1:, None])[..., 0]
        return moves, total_log_probs(last, batch, lengths, follow)

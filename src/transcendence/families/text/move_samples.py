"""Many independent samples of the model's move in one position, drawn as one batch.

The favor analysis asks the model for a hundred moves per position and temperature. Drawn
one at a time through ``ModelPolicy`` that is a hundred sequential character loops; here
the prompt is computed once and the samples advance together, one character per forward
pass of the whole batch. Each row is the same chain ``ModelPolicy`` draws in
``per_character`` mode (one try, no resampling), under the same protocol
(:mod:`..sampling`), so the samples have the same distribution: characters at the
temperature until the first space (at most ``MAX_MOVE_CHARS``), parsed as SAN; text that is
not a legal move (or is a result string) gives ``None``. (``legal_moves`` mode samples the
legal moves' scores, :class:`..sampling.ScoredMoves`.)
"""

from __future__ import annotations

import chess
import torch

from ...model.gpt import GPT
from ...pgn.text import prompt_for
from ...pgn.vocab import SPACE_ID, VOCAB, encode
from ..sampling import MAX_MOVE_CHARS, draw, read_move


class CharacterSampler:
    """The model's state after one position's prompt, sampled from at any temperature.

    The prompt is computed once, however many temperatures and samples are drawn from it.
    """

    def __init__(self, model: GPT, board: chess.Board, sans: list[str]) -> None:
        self.model, self.board = model, board
        self.device = next(model.parameters()).device
        ids = encode(prompt_for(sans))
        if len(ids) + MAX_MOVE_CHARS > model.config.block_size:
            raise ValueError(f"the game after {len(sans)} plies no longer fits the model's context")
        with torch.no_grad():
            logits, _, self.cache = model(torch.from_numpy(ids.astype("int64"))[None].to(self.device))
        self.last = logits[0, -1]

    def texts(self, temperature: float, n: int, gen: torch.Generator) -> list[str]:
        """``n`` move texts sampled character by character."""
        tokens = draw(self.last, temperature, n, gen)
        past = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in self.cache]
        chars: list[list[str]] = [[] for _ in range(n)]
        open_rows = tokens != SPACE_ID
        for step in range(MAX_MOVE_CHARS):
            for row in torch.nonzero(open_rows)[:, 0].tolist():
                chars[row].append(VOCAB[int(tokens[row])])
            if step == MAX_MOVE_CHARS - 1 or not open_rows.any():
                break
            with torch.no_grad():
                out, _, past = self.model(tokens[:, None].to(self.device), past=past)
            tokens = draw(out[:, -1], temperature, None, gen)
            open_rows &= tokens != SPACE_ID
        return ["".join(c) for c in chars]

    def moves_at(self, temperature: float, n: int, gen: torch.Generator) -> list[chess.Move | None]:
        """``n`` moves the model plays at ``temperature``; ``None``: the sample is no legal move."""
        # A result string (a resignation) is no move either.
        return [read_move(self.board, t)[0] for t in self.texts(temperature, n, gen)]

"""The model's moves for many games at once: one batched forward pass per model step.

The protocols of :mod:`.sampling`, as :class:`.policy.ModelPolicy` plays them for one position
(e.g. for the legality check), but for every game of a shard whose turn it is together.

How games of different lengths share a forward pass: each game owns a fixed slot of a
``model.SlotCache`` and its own length. A step feeds each game only its new tokens (the
opponent's move and the move number since its last turn, or the character it just
sampled), right-padded to the longest of the step; positions are per game, and cached keys
beyond a game's length are masked out, so nothing is recomputed and no past is padded.
Rewinding (a rejected try, a non-canonical SAN the game wrote differently, a new game on
the slot) is only a smaller length. We chose this over left-padding a shared cache (which
must be re-aligned whenever games diverge) and over grouping games by length (few groups
share a length).

Randomness is per game: a game's draws come from its own generator, in the same order
whatever else is batched with it, so one game at a time (``slots=1``) and many at once
play the same games. The logits of a row can differ in the last bits between batch sizes
(different matrix kernels); a draw changes only if it falls within ~1e-7 of a boundary of
the cumulative distribution.

A step per mode:
- ``per_character``: one forward for all these games: a game starting its turn feeds its
  prompt, a game in the middle of a try feeds its last character; then each game samples
  its next character. A try ends at a space or after ``MAX_MOVE_CHARS`` characters; an
  illegal one rewinds to the prompt and samples again from the prompt's logits (kept), so
  a game decides within at most ``max_tries * MAX_MOVE_CHARS`` steps.
- ``legal_moves``: a forward that feeds the prompts, then one that scores every legal move
  of every game as continuations of its cache (split in passes of at most
  ``max_candidates`` moves to bound memory); every game decides in that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import chess
import torch

from ...model.gpt import GPT, SlotCache
from ...pgn.text import prompt_for
from ...pgn.vocab import SPACE_ID, VOCAB, encode
from ..base import Request
from ..sampling import MAX_MOVE_CHARS, Choice, check_sampling, move_tokens, read_move, sample, total_log_probs, try_ends


@dataclass
class _Turn:
    """A per-character turn in progress."""

    prompt_len: int
    prompt_logits: torch.Tensor | None = None
    chars: list[str] = field(default_factory=list)
    tries: int = 1
    illegal: int = 0


class BatchPolicy:
    """A trained model playing ``slots`` games at once at one temperature in one mode."""

    def __init__(self, model: GPT, *, slots: int, temperature: float, mode: str = "per_character",
                 max_tries: int = 5, max_candidates: int = 2048) -> None:
        check_sampling(mode, temperature)
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.temperature, self.mode, self.max_tries = temperature, mode, max_tries
        self.max_candidates = max_candidates
        self.slots = slots
        self.context = model.config.block_size
        self.cache = SlotCache.empty(model, slots)
        self.ids: list[list[int]] = [[] for _ in range(slots)]        # tokens in each slot's cache
        self.feed: list[list[int]] = [[] for _ in range(slots)]       # tokens to feed next step
        self.turns: list[_Turn | None] = [None] * slots

    def new_game(self, slot: int) -> None:
        self.ids[slot], self.feed[slot], self.turns[slot] = [], [], None

    @torch.no_grad()
    def step(self, requests: list[Request]) -> dict[int, Choice]:
        """One model step for these games; returns the decided ones' choices by slot."""
        decided: dict[int, Choice] = {}
        feeding = []
        for req in requests:
            if self.turns[req.slot] is None and not self._start_turn(req):
                decided[req.slot] = Choice(None, tries=0, context_full=True)
            else:
                feeding.append(req)
        if not feeding:
            return decided
        last = self._feed([r.slot for r in feeding])
        if self.mode == "legal_moves":
            for req, logits in zip(feeding, last):
                self.turns[req.slot] = None
            decided.update(self._choose_legal(feeding, last))
            return decided
        for req, logits in zip(feeding, last):
            turn = self.turns[req.slot]
            if turn.prompt_logits is None:
                turn.prompt_logits = logits
            choice = self._sample_characters(req, turn, logits)
            if choice is not None:
                decided[req.slot] = choice
                self.turns[req.slot] = None
        return decided

    def _start_turn(self, req: Request) -> bool:
        """Queue the new part of the prompt; False when the game no longer fits the context."""
        ids = encode(prompt_for(req.sans)).tolist()
        if len(ids) + MAX_MOVE_CHARS > self.context:
            return False
        cached = self.ids[req.slot]
        keep = 0
        while keep < min(len(cached), len(ids) - 1) and cached[keep] == ids[keep]:
            keep += 1
        self.ids[req.slot] = cached[:keep]
        self.feed[req.slot] = ids[keep:]
        self.turns[req.slot] = _Turn(prompt_len=len(ids))
        return True

    def _feed(self, slots: list[int]) -> list[torch.Tensor]:
        """One forward pass feeding each slot its queued tokens; each slot's last logits (CPU)."""
        width = max(len(self.feed[s]) for s in slots)
        idx = torch.full((len(slots), 1, width), SPACE_ID, dtype=torch.long)
        real = torch.zeros((len(slots), width), dtype=torch.bool)
        for row, s in enumerate(slots):
            idx[row, 0, :len(self.feed[s])] = torch.tensor(self.feed[s])
            real[row, :len(self.feed[s])] = True
        rows = torch.tensor(slots, device=self.device)
        lengths = torch.tensor([len(self.ids[s]) for s in slots], device=self.device)
        out = self.model.forward_slots(idx.to(self.device), self.cache, rows, lengths, write=real.to(self.device))
        ends = torch.tensor([len(self.feed[s]) - 1 for s in slots], device=self.device)
        last = out[torch.arange(len(slots), device=self.device), 0, ends].cpu()
        for s in slots:
            self.ids[s] += self.feed[s]
            self.feed[s] = []
        return list(last)

    def _sample_characters(self, req: Request, turn: _Turn, logits: torch.Tensor) -> Choice | None:
        """Sample until a character must be fed to the model (None) or the turn is decided."""
        while True:
            token = sample(logits, self.temperature, req.gen)
            if token != SPACE_ID:
                turn.chars.append(VOCAB[token])
            if not try_ends(token, len(turn.chars)):
                self.feed[req.slot] = [token]
                return None
            text = "".join(turn.chars)
            move, resigned = read_move(req.board, text)
            if resigned:
                return Choice(None, tries=turn.tries, illegal=turn.illegal, resigned=True, text=text)
            if move is not None:
                return Choice(move, tries=turn.tries, illegal=turn.illegal, text=text)
            turn.illegal += 1
            if turn.tries == self.max_tries:
                return Choice(None, tries=turn.tries, illegal=turn.illegal)
            turn.tries += 1
            turn.chars = []
            self.ids[req.slot] = self.ids[req.slot][:turn.prompt_len]
            logits = turn.prompt_logits

    def _choose_legal(self, requests: list[Request], last: list[torch.Tensor]) -> dict[int, Choice]:
        """Score every legal move of every game (batched passes), then sample one per game."""
        moves = [list(r.board.legal_moves) for r in requests]
        chosen: dict[int, Choice] = {}
        start = 0
        while start < len(requests):
            end, widest = start + 1, len(moves[start])
            while end < len(requests) and max(widest, len(moves[end])) * (end + 1 - start) <= self.max_candidates:
                widest = max(widest, len(moves[end]))
                end += 1
            scores = self._score_legal(requests[start:end], moves[start:end], last[start:end])
            for req, ms, sc in zip(requests[start:end], moves[start:end], scores):
                pick = sample(sc, self.temperature, req.gen)
                chosen[req.slot] = Choice(ms[pick], text=req.board.san(ms[pick]))
            start = end
        return chosen

    def _score_legal(self, requests: list[Request], moves: list[list[chess.Move]],
                     last: list[torch.Tensor]) -> list[torch.Tensor]:
        """Total log-probability of each legal move's SAN and closing space, per game."""
        texts = [move_tokens(r.board, ms) for r, ms in zip(requests, moves)]
        width = max(len(t) for ts in texts for t in ts)
        widest = max(len(ms) for ms in moves)
        tokens = torch.full((len(requests), widest, width), SPACE_ID, dtype=torch.long)
        for g, ts in enumerate(texts):
            for m, t in enumerate(ts):
                tokens[g, m, :len(t)] = torch.tensor(t)
        follow = None
        if width > 1:
            rows = torch.tensor([r.slot for r in requests], device=self.device)
            lengths = torch.tensor([len(self.ids[r.slot]) for r in requests], device=self.device)
            out = self.model.forward_slots(tokens[:, :, :-1].to(self.device), self.cache, rows, lengths)
            logp = torch.log_softmax(out.double(), dim=-1).cpu()
            follow = logp.gather(3, tokens[:, :, 1:, None])[..., 0]                 # (G, M, width-1)
        scores = []
        for g, ts in enumerate(texts):
            lengths = torch.tensor([len(t) for t in ts])
            scores.append(total_log_probs(last[g], tokens[g, :len(ts)], lengths,
                                          None if follow is None else follow[g, :len(ts)]))
        return scores

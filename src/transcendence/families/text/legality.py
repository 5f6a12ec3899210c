"""How often a model's sampled next move is legal: a training metric that speaks chess.

The validation loss says how well a model predicts characters; what the study needs is a
model that plays legal moves. So at every evaluation, training takes a fixed set of
held-out (validation) games, each cut after a random number of moves, samples the next
move at temperature 1 character by character (the paper's per-character protocol, one try)
and checks it with python-chess. The prefixes are drawn once per run from the seed and each
evaluation's samples from (seed, step), so the curve is reproducible and a resumed run
logs the same values as one that never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import chess
import numpy as np
import torch

from ...model.gpt import GPT
from ...pgn.text import prompt_for, text_to_sans
from ...pgn.vocab import GAME_START, decode
from ..sampling import MAX_MOVE_CHARS
from .policy import ModelPolicy


@dataclass(frozen=True)
class Prefix:
    """The first moves of a held-out game; the model is asked for the next one."""

    sans: tuple[str, ...]

    def board(self) -> chess.Board:
        board = chess.Board()
        for san in self.sans:
            board.push_san(san)
        return board


def _games_of_block(block: np.ndarray) -> list[list[str]]:
    """The move lists of the games packed in one block (a game truncated by packing loses
    its cut-off last move; a game that does not parse is skipped)."""
    games = []
    for body in decode(block).rstrip(" ").split(GAME_START)[1:]:
        tokens = body.rstrip(" ").split(" ")
        for keep in (len(tokens), len(tokens) - 1):  # the last move may be cut off
            try:
                games.append(text_to_sans(GAME_START + " ".join(tokens[:keep])))
                break
            except ValueError:
                continue
    return games


def held_out_prefixes(val_blocks: np.ndarray, n: int, seed: int, context: int) -> list[Prefix]:
    """``n`` prefixes of validation games, each cut before a uniformly random move.

    Only blocks that are read are decoded (the paper's validation set has millions), and
    only prefixes whose prompt leaves room for a move in the model's ``context`` are kept.
    """
    rng = np.random.default_rng([seed, 0x1E6A1])
    prefixes: list[Prefix] = []
    for _ in range(50 * n):  # a generous bound; a val set without usable games ends early
        if len(prefixes) == n or len(val_blocks) == 0:
            break
        games = [g for g in _games_of_block(val_blocks[int(rng.integers(len(val_blocks)))]) if g]
        if not games:
            continue
        sans = games[int(rng.integers(len(games)))]
        cut = int(rng.integers(len(sans)))  # the true next move sans[cut] exists
        if len(prompt_for(sans[:cut])) + MAX_MOVE_CHARS <= context:
            prefixes.append(Prefix(tuple(sans[:cut])))
    return prefixes


@torch.no_grad()
def legal_move_share(model: GPT, prefixes: list[Prefix], seed: int, step: int) -> float:
    """Share of ``prefixes`` for which one sampled move (T=1, per character) is legal.

    A result string ("1-0") or anything python-chess cannot parse as a legal SAN move
    counts as not legal. Leaves the model in training mode, as training expects.
    """
    if not prefixes:
        return float("nan")
    policy = ModelPolicy(model, temperature=1.0, mode="per_character", max_tries=1)
    gen = torch.Generator().manual_seed(int(np.random.default_rng([seed, step]).integers(2**62)))
    try:
        legal = sum(policy.choose(p.board(), list(p.sans), gen).move is not None for p in prefixes)
    finally:
        model.train()
    return legal / len(prefixes)

"""The ChessFormer's last hidden state where it is about to write its move (the t-SNE's input)."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np
import torch

from ...model.gpt import GPT
from ...pgn.text import prompt_for
from ...pgn.vocab import encode
from ..base import GamePosition


@torch.no_grad()
def last_hidden_states(model: GPT, positions: Sequence[GamePosition]) -> np.ndarray:
    """(positions, n_embd): the final layer norm's output at each prompt's last character.

    A forward hook on ``ln_f`` reads it without touching the model's code. The model is
    causal, so one pass over a game's longest prompt gives the state at every shorter one.
    """
    device = next(model.parameters()).device
    by_game: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(positions):
        by_game[p.game].append(i)
    captured: list[torch.Tensor] = []
    hook = model.ln_f.register_forward_hook(lambda _module, _inp, out: captured.append(out))
    out = np.zeros((len(positions), model.config.n_embd), dtype=np.float32)
    try:
        for rows in by_game.values():
            longest = max(rows, key=lambda i: positions[i].ply)
            ids = encode(prompt_for(list(positions[longest].sans)))
            captured.clear()
            model(torch.from_numpy(ids.astype("int64"))[None].to(device))
            hidden = captured[0][0]
            for i in rows:
                out[i] = hidden[len(prompt_for(list(positions[i].sans))) - 1].float().cpu().numpy()
    finally:
        hook.remove()
    return out

"""The ChessFormer: a GPT-2 style decoder over the 32-character chess vocabulary.

As docs/PROTOCOL.md describes it (nanoGPT's design): learned positions, pre-LayerNorm blocks, GELU
MLPs, no biases, tied input and output embeddings. Attention is one call of PyTorch's
scaled-dot-product kernel (flash attention on a GPU). ``forward`` optionally takes and
returns a key/value cache, so evaluation can extend a game one character or one candidate
move at a time without recomputing its whole context; ``forward_slots`` does so for many
games at once. Training's causal sequence, a cache's continuation, many continuations of
one cache and the slots of batched evaluation differ only in the keys and values a ``Join``
assembles before that call and in the mask that goes with them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

KVCache = list[tuple[torch.Tensor, torch.Tensor]]
# Makes the keys and values a layer attends over from its new tokens' (B, heads, S, head_dim).
Join = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 32
    block_size: int = 1023
    n_layer: int = 16
    n_head: int = 8
    n_embd: int = 512
    dropout: float = 0.0
    bias: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError(f"n_embd {cfg.n_embd} is not a multiple of n_head {cfg.n_head}")
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, join: Join | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attention of x's tokens (B, S, C) over the keys and values ``join`` makes of theirs.

        Without ``join`` a token sees the earlier tokens of its row: training's causal kernel.
        Otherwise ``join`` puts x's keys and values among a past's (a cache's, see ``after``;
        a slot's, see ``SlotCache.join``) and ``mask`` (True: may attend; (B or 1, 1, S, keys))
        says which of those each token sees. Returns the output and the keys and values.
        """
        B, S, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, S, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if join is not None:
            k, v = join(k, v)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=join is None)
        y = y.transpose(1, 2).contiguous().view(B, S, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


def after(past: tuple[torch.Tensor, torch.Tensor], k: torch.Tensor, v: torch.Tensor
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """A cache's keys and values, then the new tokens': what a continuation attends over."""
    return torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)


def attention_mask(visible: torch.Tensor, m: int, t: int) -> torch.Tensor:
    """The mask of ``m`` continuations of ``t`` tokens each, laid end to end in one row.

    ``visible`` (R, P) says which of its P past keys each row may see (a slot's keys beyond
    its length may not). A token sees those and the earlier tokens of its own continuation,
    never another continuation's: so the continuations of one past share a single copy of it
    instead of one each. Returns (R, 1, m * t, P + m * t).
    """
    R, P = visible.shape
    i = torch.arange(m * t, device=visible.device)
    own = (i[:, None] // t == i[None, :] // t) & (i[None, :] <= i[:, None])
    return torch.cat([visible[:, None, None, :].expand(R, 1, m * t, P), own.expand(R, 1, m * t, m * t)], dim=-1)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, join: Join | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, kv = self.attn(self.ln_1(x), join, mask)
        x = x + a
        return x + self.mlp(self.ln_2(x)), kv


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied embeddings
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of residual projections
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                past: KVCache | None = None) -> tuple[torch.Tensor, torch.Tensor | None, KVCache]:
        """Logits for every position (and the loss when ``targets`` is given).

        With ``past`` (a cache from an earlier call), ``idx`` continues that context; a
        cache of batch 1 is shared by every row of ``idx`` (many continuations of one prefix,
        laid end to end in one row so the cache is not copied per row). The returned cache
        continues ``idx``; it is empty with ``targets`` (nothing continues a training batch,
        and a compiled training graph need not hand out every layer's keys and values) and
        for continuations of a shared cache (it holds them end to end, not as rows).
        """
        B, T = idx.shape
        start = 0 if past is None else past[0][0].shape[2]
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds the context of {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        mask, rows = None, B
        if past is not None:
            rows = past[0][0].shape[0]
            everything = torch.ones(rows, start, dtype=torch.bool, device=idx.device)
            x, mask = x.reshape(rows, -1, x.shape[-1]), attention_mask(everything, B // rows, T)
        cache: KVCache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past is None else partial(after, past[i]), mask)
            if targets is None and rows == B:
                cache.append(kv)
        logits = self.lm_head(self.ln_f(x)).view(B, T, -1)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss, cache

    @torch.no_grad()
    def forward_slots(self, idx: torch.Tensor, cache: "SlotCache", rows: torch.Tensor, lengths: torch.Tensor,
                      write: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (G, M, T, vocab) for M continuations ``idx`` (G, M, T) of G cached sequences.

        Row g continues slot ``rows[g]`` of ``cache`` after its first ``lengths[g]`` tokens;
        positions are per row, so sequences of different lengths share one forward pass
        without padding their pasts (cached keys beyond a row's length are masked out). With
        ``write`` (M == 1; a (G, T) mask, True on real tokens, right padding False) the new
        tokens' keys and values go into the cache; the caller then advances its lengths.
        Inference only (no dropout).
        """
        G, M, T = idx.shape
        if write is not None and M != 1:
            raise ValueError("only single continuations (M == 1) can be written to the cache")
        ends = lengths + (T if write is None else write.sum(dim=1))
        if G and int(ends.max()) > cache.k[0].shape[2]:
            raise ValueError(f"sequence of {int(ends.max())} tokens exceeds the cache of {cache.k[0].shape[2]}")
        pos = (lengths[:, None] + torch.arange(T, device=idx.device)).clamp(max=self.config.block_size - 1)
        x = (self.wte(idx) + self.wpe(pos)[:, None]).view(G, M * T, self.config.n_embd)
        P = int(lengths.max()) if G else 0
        if write is None:  # continuations after each slot's past (one copy of it for all M)
            keys = P
            mask = attention_mask(torch.arange(P, device=idx.device) < lengths[:, None], M, T)
        else:  # tokens stored in their slots first: token t of row g sees keys 0 .. lengths[g] + t
            keys = min(P + T, cache.k[0].shape[2])
            last = lengths[:, None] + torch.arange(T, device=idx.device)                  # (G, T)
            mask = (torch.arange(keys, device=idx.device) <= last[:, :, None])[:, None]   # (G, 1, T, keys)
        for i, block in enumerate(self.h):
            x = block(x, partial(cache.join, i, rows, lengths, keys, write), mask)[0]
        return self.lm_head(self.ln_f(x)).view(G, M, T, self.config.vocab_size)

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on 2-D weights only (matrices, embeddings), as nanoGPT and the paper."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]




@dataclass
class SlotCache:
    """Keys and values for many sequences at once, one fixed "slot" per sequence.

    Each layer holds (slots, heads, block_size, head_dim) tensors, zero-filled (masked keys
    must never hold NaN). A sequence's length lives with its owner, not here: rewinding a
    sequence (a rejected move, a new game) is just setting a smaller length.
    """

    k: list[torch.Tensor]
    v: list[torch.Tensor]

    @classmethod
    def empty(cls, model: GPT, slots: int) -> "SlotCache":
        cfg = model.config
        p = next(model.parameters())
        shape = (slots, cfg.n_head, cfg.block_size, cfg.n_embd // cfg.n_head)
        return cls([torch.zeros(shape, device=p.device, dtype=p.dtype) for _ in range(cfg.n_layer)],
                   [torch.zeros(shape, device=p.device, dtype=p.dtype) for _ in range(cfg.n_layer)])

    def join(self, layer: int, rows: torch.Tensor, lengths: torch.Tensor, keys: int, write: torch.Tensor | None,
             k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What row g's new tokens attend over in ``layer``: slot ``rows[g]``'s first ``keys`` keys,
        then (without ``write``) the new tokens' own. With ``write`` ((G, T) real tokens) the
        new tokens are stored at their positions first (lengths[g] + t), so the slot's cache
        already holds them and is gathered once, not gathered and then extended.
        """
        if write is not None:
            g, t = write.nonzero(as_tuple=True)
            self.k[layer][rows[g], :, lengths[g] + t] = k[g, :, t]
            self.v[layer][rows[g], :, lengths[g] + t] = v[g, :, t]
        past = (self.k[layer][:, :, :keys].index_select(0, rows), self.v[layer][:, :, :keys].index_select(0, rows))
        return past if write is not None else after(past, k, v)

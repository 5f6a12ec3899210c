"""The ChessFormer: a GPT-2 style decoder over the 32-character chess vocabulary.

As docs/PROTOCOL.md describes it (nanoGPT's design): learned positions, pre-LayerNorm blocks, GELU
MLPs, no biases, tied input and output embeddings. Attention uses PyTorch's
scaled-dot-product kernel (flash attention on a GPU). ``forward`` optionally takes and
returns a key/value cache, so evaluation can extend a game one character or one candidate
move at a time without recomputing its whole context.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


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

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if past is not None and past[0].shape[0] == 1 and B > 1:
            return self._shared_prefix(q, k, v, past, B, T, C)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        p = self.dropout if self.training else 0.0
        if past is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            # New tokens see the whole cache and, among themselves, only earlier tokens.
            past_len = k.shape[2] - T
            mask = torch.ones(T, past_len + T, dtype=torch.bool, device=x.device)
            mask[:, past_len:] = torch.tril(mask[:, past_len:])
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)

    def _shared_prefix(self, q, k, v, past, B: int, T: int, C: int):
        """B continuations of one cached context, without copying the cache B times.

        Scores against the shared past broadcast over the batch; the few new tokens attend
        causally among themselves. Used to score every legal move of a position at once; it
        returns the new tokens' keys and values only (their cache is not reused).
        """
        scale = 1.0 / math.sqrt(q.shape[-1])
        past_scores = torch.matmul(q, past[0].transpose(-2, -1)) * scale          # (B, h, T, P)
        new_scores = torch.matmul(q, k.transpose(-2, -1)) * scale                 # (B, h, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        new_scores = new_scores.masked_fill(~causal, float("-inf"))
        probs = torch.softmax(torch.cat([past_scores, new_scores], dim=-1), dim=-1)
        P = past_scores.shape[-1]
        y = torch.matmul(probs[..., :P], past[1]) + torch.matmul(probs[..., P:], v)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


    def forward_slots(self, x: torch.Tensor, cache: "SlotCache", layer: int, rows: torch.Tensor,
                      lengths: torch.Tensor, write: torch.Tensor | None) -> torch.Tensor:
        """Attention for ``GPT.forward_slots``: x is (G, M, T, C), M continuations per slot.

        Each continuation sees its slot's first ``lengths[g]`` cached keys (one shared copy,
        never replicated M times) and, among its own T tokens, only earlier ones. With
        ``write`` (a (G, T) mask of real tokens, M == 1), their keys and values are stored
        first and the queries attend over the slot's cache in one kernel call.
        """
        G, M, T, C = x.shape
        h, d = self.n_head, C // self.n_head
        q, k, v = (t.view(G, M, T, h, d).permute(0, 3, 1, 2, 4) for t in self.c_attn(x).split(C, dim=3))
        if write is not None:
            # One continuation per slot: store the real tokens' keys and values, then attend
            # over the slot's cache (query t of row g sees keys 0 .. lengths[g] + t).
            g, t = write.nonzero(as_tuple=True)
            slot, pos = rows[g], lengths[g] + t
            cache.k[layer][slot, :, pos] = k[g, :, 0, t]
            cache.v[layer][slot, :, pos] = v[g, :, 0, t]
            L = min(int(lengths.max()) + T, cache.k[layer].shape[2])
            kc = cache.k[layer][:, :, :L].index_select(0, rows)
            vc = cache.v[layer][:, :, :L].index_select(0, rows)
            seen = torch.arange(L, device=x.device)[None, None, :] <= \
                (lengths[:, None] + torch.arange(T, device=x.device)[None, :])[:, :, None]   # (G, T, L)
            y = F.scaled_dot_product_attention(q[:, :, 0], kc, vc, attn_mask=seen[:, None])  # (G, h, T, d)
            return self.c_proj(y.transpose(1, 2).reshape(G, 1, T, C))
        scale = 1.0 / math.sqrt(d)
        P = int(lengths.max()) if G else 0
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        new_scores = (q @ k.transpose(-2, -1) * scale).masked_fill(~causal, float("-inf"))  # (G,h,M,T,T)
        if P:
            kp = cache.k[layer][:, :, :P].index_select(0, rows)                       # (G, h, P, d)
            vp = cache.v[layer][:, :, :P].index_select(0, rows)
            past_scores = (q.reshape(G, h, M * T, d) @ kp.transpose(-2, -1) * scale).view(G, h, M, T, P)
            unseen = torch.arange(P, device=x.device)[None, :] >= lengths[:, None]      # (G, P)
            past_scores = past_scores.masked_fill(unseen[:, None, None, None, :], float("-inf"))
            probs = torch.softmax(torch.cat([past_scores, new_scores], dim=-1), dim=-1)
            y = (probs[..., :P].reshape(G, h, M * T, P) @ vp).view(G, h, M, T, d) + probs[..., P:] @ v
        else:
            y = torch.softmax(new_scores, dim=-1) @ v
        return self.c_proj(y.permute(0, 2, 3, 1, 4).reshape(G, M, T, C))


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

    def forward(self, x: torch.Tensor, past=None):
        a, kv = self.attn(self.ln_1(x), past)
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
        cache of batch 1 is shared by every row of ``idx`` (many continuations of one prefix).
        With ``targets`` (training) the returned cache is empty: nothing continues a training
        batch, and a compiled training graph need not hand out every layer's keys and values.
        """
        B, T = idx.shape
        start = 0 if past is None else past[0][0].shape[2]
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds the context of {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        cache: KVCache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past is None else past[i])
            if targets is None:
                cache.append(kv)
        logits = self.lm_head(self.ln_f(x))
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
        x = self.wte(idx) + self.wpe(pos)[:, None]
        for i, block in enumerate(self.h):
            x = x + block.attn.forward_slots(block.ln_1(x), cache, i, rows, lengths, write)
            x = x + block.mlp(block.ln_2(x))
        return self.lm_head(self.ln_f(x))

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

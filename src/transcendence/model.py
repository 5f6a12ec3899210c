"""The ChessFormer: a GPT-2 style decoder over the 32-character chess vocabulary.

As STUDY.md describes it (nanoGPT's design): learned positions, pre-LayerNorm blocks, GELU
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
            cache.append(kv)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss, cache

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on 2-D weights only (matrices, embeddings), as nanoGPT and the paper."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]



"""The ChessFormer: sizes, tied embeddings and the key/value cache used in evaluation."""

from __future__ import annotations

import torch

from transcendence.model.gpt import GPT, GPTConfig, SlotCache


def test_paper_model_has_about_50m_parameters():
    model = GPT(GPTConfig(n_layer=16, n_head=8, n_embd=512, block_size=1023))
    assert 48e6 < model.num_params() < 54e6
    assert model.lm_head.weight is model.wte.weight


def test_cached_forward_equals_full_forward():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=64)).eval()
    x = torch.randint(0, 32, (1, 30))
    full, _, _ = model(x)
    a, _, cache = model(x[:, :20])
    b, _, cache = model(x[:, 20:27], past=cache)
    c, _, _ = model(x[:, 27:], past=cache)
    assert torch.allclose(torch.cat([a, b, c], dim=1), full, atol=1e-5)


def test_a_shared_cache_scores_several_continuations_at_once():
    torch.manual_seed(1)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=64)).eval()
    prefix = torch.randint(0, 32, (1, 10))
    conts = torch.randint(0, 32, (3, 4))
    _, _, cache = model(prefix)
    batched, _, _ = model(conts, past=cache)
    for i in range(3):
        alone, _, _ = model(torch.cat([prefix, conts[i:i + 1]], dim=1))
        assert torch.allclose(batched[i], alone[0, 10:], atol=1e-5)


def test_slot_cache_steps_equal_plain_forwards():
    """Slots of different lengths written with right-padded steps, then several continuations
    of each: every logit as the cache-free forward of the whole sequence gives it."""
    torch.manual_seed(2)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=64)).eval()
    cache = SlotCache.empty(model, 3)
    seqs: list[list[int]] = [[], [], []]
    rows = torch.tensor([2, 0])
    for width in (5, 1, 3):
        idx = torch.randint(0, 32, (2, 1, width))
        real = torch.tensor([width, max(1, width - 2)])
        lengths = torch.tensor([len(seqs[int(r)]) for r in rows])
        out = model.forward_slots(idx, cache, rows, lengths, write=torch.arange(width)[None] < real[:, None])
        for g, r in enumerate(rows.tolist()):
            seqs[r] += idx[g, 0, :int(real[g])].tolist()
            plain, _, _ = model(torch.tensor([seqs[r]]))
            assert torch.allclose(out[g, 0, :int(real[g])], plain[0, -int(real[g]):], atol=1e-5)
    conts = torch.randint(0, 32, (2, 4, 3))
    lengths = torch.tensor([len(seqs[int(r)]) for r in rows])
    out = model.forward_slots(conts, cache, rows, lengths)
    for g, r in enumerate(rows.tolist()):
        for m in range(4):
            plain, _, _ = model(torch.tensor([seqs[r] + conts[g, m].tolist()]))
            assert torch.allclose(out[g, m], plain[0, -3:], atol=1e-5)


def test_context_overflow_is_an_error():
    model = GPT(GPTConfig(n_layer=1, n_head=1, n_embd=8, block_size=8))
    try:
        model(torch.zeros(1, 9, dtype=torch.long))
    except ValueError as exc:
        assert "exceeds the context" in str(exc)
    else:
        raise AssertionError("no error for a sequence longer than the context")

"""Training: real optimisation steps, exact resume, and byte-identical checkpoints on CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from transcendence.model import GPTConfig
from transcendence.packing import pack_blocks
from transcendence.train import TrainConfig, TrainingDiverged, load_model, lr_at, train

MODEL = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=63)


@pytest.fixture
def data(tmp_path):
    games = [";1.e4 e5 2.Nf3 Nc6 3.Bb5 a6", ";1.d4 d5 2.c4 e6 3.Nc3 Nf6", ";1.e4 c5 2.Nf3 d6"] * 20
    blocks, _ = pack_blocks(games, MODEL.block_size + 1)
    blocks.tofile(tmp_path / "train.bin")
    blocks[:4].tofile(tmp_path / "val.bin")
    return tmp_path


def cfg(steps: int, **kw) -> TrainConfig:
    base = dict(max_steps=steps, batch_size=4, learning_rate=1e-2, min_lr=1e-3, warmup_steps=2,
                eval_interval=3, eval_batches=1, checkpoint_interval=3, log_interval=1, seed=3)
    return TrainConfig(**{**base, **kw})


def run(data, out: str, steps: int, state: str | None = None, **kw):
    d = data / out
    return train(data / "train.bin", data / "val.bin", d / "model.pt", d / "metrics.json", MODEL,
                 cfg(steps, **kw), state_path=(data / state) if state else None, threads=1)


def test_loss_goes_down(data):
    summary = run(data, "a", 30)
    hist = summary["history"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"] - 0.5
    assert json.loads((data / "a" / "metrics.json").read_text())["steps"] == 30


def test_same_seed_gives_the_same_checkpoint_bytes(data):
    run(data, "a", 6)
    run(data, "b", 6)
    run(data, "c", 6, seed=4)
    a, b, c = ((data / x / "model.pt").read_bytes() for x in "abc")
    assert a == b
    assert a != c


def test_killed_run_resumes_exactly(data):
    run(data, "straight", 6)
    # N steps with a checkpoint every N, killed in step N + 1, then resumed to 2N.
    state = data / "state.pt"
    _train_until(data, "state.pt", 6, stop=4, checkpoint_interval=3)
    assert torch.load(state, weights_only=False)["step"] == 3
    run(data, "resumed", 6, state="state.pt")
    a = load_model(data / "straight" / "model.pt").state_dict()
    b = load_model(data / "resumed" / "model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _train_until(data, state: str, steps: int, stop: int, **kw) -> None:
    """Run a training of ``steps`` steps and kill it (an exception) right after ``stop`` steps."""
    import transcendence.train as t

    original = t.lr_at
    calls = {"n": 0}

    def dying_lr(step, c):
        if step >= stop:
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        return original(step, c)

    t.lr_at = dying_lr
    try:
        with pytest.raises(KeyboardInterrupt):
            run(data, "killed", steps, state=state, **kw)
    finally:
        t.lr_at = original
    assert calls["n"] == stop
    assert not (data / "killed" / "model.pt").exists()


def test_learning_rate_schedule():
    c = cfg(100, learning_rate=1.0, min_lr=0.1, warmup_steps=10)
    assert lr_at(0, c) == pytest.approx(0.1)
    assert lr_at(9, c) == pytest.approx(1.0)
    assert lr_at(10, c) == pytest.approx(1.0)
    assert lr_at(55, c) == pytest.approx(0.55)
    assert lr_at(100, c) == pytest.approx(0.1)


def test_exploding_loss_stops_with_a_clear_error(data):
    with pytest.raises(TrainingDiverged, match="loss"):
        run(data, "boom", 20, state="boom.pt", learning_rate=1e4, min_lr=1e4, warmup_steps=0, grad_clip=0.0)

"""Training: real optimisation steps, exact resume (weights and DVCLive curves), byte-identical
checkpoints on CPU, and the legal-move share of sampled continuations."""

from __future__ import annotations

import io
import json

import pytest
import torch

from transcendence.families.text.legality import _games_of_block, held_out_prefixes, legal_move_share
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.data.packing import load_blocks
from transcendence.families.text.training import train
from transcendence.training.train import TrainConfig, TrainingDiverged, lr_at
from transcendence.families import load_model

from .conftest import TINY_MODEL_SIZES
from .helpers import pack_blocks

MODEL = GPTConfig(**TINY_MODEL_SIZES)


@pytest.fixture
def data(tiny_train_data):
    return tiny_train_data


def cfg(steps: int, **kw) -> TrainConfig:
    base = dict(max_steps=steps, batch_size=4, learning_rate=1e-2, min_lr=1e-3, warmup_steps=2,
                eval_interval=3, eval_batches=1, checkpoint_interval=3, log_interval=1, seed=3)
    return TrainConfig(**{**base, **kw})


def run(data, out: str, steps: int, state: str | None = None, live: str | None = None, **kw):
    d = data / out
    return train(data / "train.bin", data / "val.bin", d / "model.pt", d / "metrics.json", MODEL,
                 cfg(steps, **kw), state_path=(data / state) if state else None,
                 live_dir=(data / live) if live else None, threads=1)


def curve(live_dir, name: str) -> list[tuple[int, float]]:
    """(step, value) rows of one DVCLive metric."""
    lines = (live_dir / "plots" / "metrics" / f"{name}.tsv").read_text().splitlines()
    assert lines[0] == f"step\t{name.split('/')[-1]}"
    return [(int(a), float(b)) for a, b in (line.split("\t") for line in lines[1:])]


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
    run(data, "straight", 6, live="straight_live", legal_prefixes=4)
    # N steps with a checkpoint every N, killed in step N + 1, then resumed to 2N.
    state = data / "state.pt"
    _train_until(data, "state.pt", 6, stop=4, checkpoint_interval=3, live="live", legal_prefixes=4)
    assert torch.load(state, weights_only=False)["step"] == 3
    assert [s for s, _ in curve(data / "live", "train/loss")] == [1, 2, 3, 4]  # step 4 is logged twice...
    run(data, "resumed", 6, state="state.pt", live="live", legal_prefixes=4)
    a = load_model(data / "straight" / "model.pt").state_dict()
    b = load_model(data / "resumed" / "model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    compute = json.loads((data / "resumed" / "timing.json").read_text())["compute"]
    assert compute["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and compute["device"] == "cpu"
    # ...but the resumed curves hold every step once, with the values of the run that never stopped.
    for name in ("train/loss", "lr", "val/loss", "val/legal_move_share"):
        assert curve(data / "live", name) == curve(data / "straight_live", name), name
    assert [s for s, _ in curve(data / "live", "tokens_per_s")] == list(range(1, 7))
    assert json.loads((data / "live" / "metrics.json").read_text())["step"] == 6


def test_a_forced_rerun_that_resumes_the_finished_state_rewrites_the_same_metrics(data):
    """A forced re-train finds the finished run's state: no step is left, and what DVC hashes
    (metrics.json, the model, the curves) must be what the run wrote, to the byte; the final
    training loss was once written rounded from the history (2.8863048553466797 -> 2.8863)."""
    run(data, "a", 6, state="state.pt", live="live", legal_prefixes=4)
    tracked = [data / "a" / "metrics.json", data / "a" / "model.pt",
               *sorted((data / "live" / "plots").rglob("*.tsv"))]
    before = [p.read_bytes() for p in tracked]
    assert len(repr(json.loads(before[0])["final_train_loss"])) > 8  # a float of full precision
    log = io.StringIO()
    train(data / "train.bin", data / "val.bin", data / "a" / "model.pt", data / "a" / "metrics.json", MODEL,
          cfg(6, legal_prefixes=4), state_path=data / "state.pt", live_dir=data / "live", threads=1, log=log)
    assert "resumed from" in log.getvalue() and "at step 6" in log.getvalue()
    assert [p.read_bytes() for p in tracked] == before
    # A state saved before states held the exact loss: the metrics.json of the same run has it.
    state = torch.load(data / "state.pt", weights_only=False)
    torch.save({k: v for k, v in state.items() if k != "train_loss"}, data / "state.pt")
    run(data, "a", 6, state="state.pt", live="live", legal_prefixes=4)
    assert [p.read_bytes() for p in tracked] == before


def test_dvclive_curves_of_a_run(data):
    run(data, "a", 6, live="live", legal_prefixes=4)
    live = data / "live"
    assert [s for s, _ in curve(live, "train/loss")] == list(range(1, 7))  # log_interval 1
    assert [s for s, _ in curve(live, "val/loss")] == [3, 6]  # eval_interval 3
    assert all(0.0 <= v <= 1.0 for _, v in curve(live, "val/legal_move_share"))
    assert all(v > 0 for _, v in curve(live, "tokens_per_s"))
    lrs = [v for _, v in curve(live, "lr")]
    assert lrs == [pytest.approx(lr_at(s, cfg(6))) for s in range(6)]
    summary = json.loads((live / "metrics.json").read_text())
    history = json.loads((data / "a" / "metrics.json").read_text())["history"]
    assert summary["val"]["loss"] == pytest.approx(history[-1]["val_loss"], abs=1e-5)
    assert not (live / "dvc.yaml").exists()  # the project's dvc.yaml declares the plots


def test_training_raises_the_legal_move_share(data):
    summary = run(data, "a", 60, eval_interval=20, legal_prefixes=32, learning_rate=1e-2, min_lr=1e-3)
    shares = [h["legal_move_share"] for h in summary["history"]]
    prefixes = held_out_prefixes(load_blocks(data / "val.bin", MODEL.block_size + 1), 32, 3, MODEL.block_size)
    torch.manual_seed(0)
    untrained = legal_move_share(GPT(MODEL), prefixes, 3, 0)
    assert all(0.0 <= s <= 1.0 for s in shares + [untrained])
    assert shares[-1] > shares[0] and shares[-1] >= untrained + 0.15, (untrained, shares)


def test_held_out_prefixes_come_from_validation_games(data):
    val = load_blocks(data / "val.bin", MODEL.block_size + 1)
    prefixes = held_out_prefixes(val, 20, 1, MODEL.block_size)
    assert prefixes == held_out_prefixes(val, 20, 1, MODEL.block_size)  # seeded
    games = [g for block in val for g in _games_of_block(block)]
    assert len(prefixes) == 20
    for p in prefixes:  # each a proper prefix of some held-out game, so a next move exists
        assert any(list(p.sans) == g[:len(p.sans)] and len(g) > len(p.sans) for g in games)
    assert len({p.sans for p in prefixes}) > 3  # cut at different moves


def test_a_game_cut_by_packing_loses_only_its_cut_move():
    blocks = pack_blocks([";1.e4 e5 2.Nf3 Nc6", ";1.d4 Nf6 2.c4 e6 3.Nc3 Bb4"], 40)[0]
    assert blocks.shape == (2, 40)  # the second game did not fit after the first
    first, second = (_games_of_block(b) for b in blocks)
    assert first == [["e4", "e5", "Nf3", "Nc6"]]
    assert second == [["d4", "Nf6", "c4", "e6", "Nc3", "Bb4"]]
    cut = pack_blocks([";1.d4 Nf6 2.c4 e6 3.Nc3 Bb4"], 25)[0][0]  # ";1.d4 Nf6 2.c4 e6 3.Nc3 B"
    assert _games_of_block(cut) == [["d4", "Nf6", "c4", "e6", "Nc3"]]


def test_a_state_saved_under_another_recipe_is_not_resumed(data):
    run(data, "old", 6, state="state.pt")
    run(data, "new", 6, state="state.pt", learning_rate=5e-3)  # the config changed: train afresh
    run(data, "fresh", 6, learning_rate=5e-3)
    assert (data / "new" / "model.pt").read_bytes() == (data / "fresh" / "model.pt").read_bytes()
    assert torch.load(data / "state.pt", weights_only=False)["recipe"]["learning_rate"] == 5e-3


def test_a_state_learnt_from_other_data_of_the_same_size_is_not_resumed(data):
    """The recipe holds the data's hashes, not only its size: one token changed is other data."""
    other = data / "other"
    other.mkdir()
    tokens = bytearray((data / "train.bin").read_bytes())
    i = next(i for i in range(len(tokens) - 1) if tokens[i] != tokens[i + 1])
    tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]  # the same tokens, the same size, two swapped
    (other / "train.bin").write_bytes(bytes(tokens))
    (other / "val.bin").write_bytes((data / "val.bin").read_bytes())
    run(data, "a", 6, state="state.pt")
    log = io.StringIO()
    for out, state in (("resumed", data / "state.pt"), ("fresh", None)):
        train(other / "train.bin", other / "val.bin", other / out / "model.pt", other / out / "metrics.json",
              MODEL, cfg(6), state_path=state, threads=1, log=log)
    assert "ignoring" in log.getvalue() and "train_sha256" in log.getvalue()
    assert (other / "resumed" / "model.pt").read_bytes() == (other / "fresh" / "model.pt").read_bytes()
    assert (other / "resumed" / "model.pt").read_bytes() != (data / "a" / "model.pt").read_bytes()


def test_a_state_from_another_machine_is_resumed_and_said_so(data):
    """Another CPU's state is the same work rounded differently: resumed, logged, and recorded."""
    _train_until(data, "state.pt", 6, stop=4, checkpoint_interval=3)
    state = torch.load(data / "state.pt", weights_only=False)
    assert state["compute"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    elsewhere = {**state["compute"], "cpu": "another CPU", "cpu_capability": "AVX2-or-other"}
    torch.save({**state, "compute": elsewhere}, data / "state.pt")
    out, log = data / "resumed", io.StringIO()
    train(data / "train.bin", data / "val.bin", out / "model.pt", out / "metrics.json", MODEL, cfg(6),
          state_path=data / "state.pt", threads=1, log=log)
    log = log.getvalue()
    assert "resumed from" in log and "another CPU" in log and "match neither" in log
    timing = json.loads((data / "resumed" / "timing.json").read_text())
    assert timing["resumed_from_compute"] == elsewhere and timing["compute"]["cpu"] != "another CPU"


def _train_until(data, state: str, steps: int, stop: int, **kw) -> None:
    """Run a training of ``steps`` steps and kill it (an exception) right after ``stop`` steps."""
    import transcendence.training.train as t

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

"""Data-parallel training for real: torchrun, two CPU processes, the gloo backend."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from transcendence.training.distributed import Ranks, weights_digest
from transcendence.model.gpt import GPTConfig
from transcendence.training.train import my_micro_batches
from transcendence.families import load_model
from transcendence.families.train_job import run

from .conftest import TINY_MODEL_SIZES

MODEL = GPTConfig(**TINY_MODEL_SIZES)
TRAIN = dict(max_steps=6, batch_size=4, grad_accum=2, learning_rate=1e-2, min_lr=1e-3, warmup_steps=2,
             eval_interval=3, eval_batches=1, legal_prefixes=4, checkpoint_interval=3, log_interval=1,
             device="cpu")


@pytest.fixture
def data(tiny_train_data):
    return tiny_train_data


def job(data, out: str) -> dict:
    d = data / out
    return {"train_bin": str(data / "train.bin"), "val_bin": str(data / "val.bin"),
            "model_out": str(d / "model.pt"), "metrics_out": str(d / "metrics.json"),
            "state_path": str(d / "state.pt"), "live_dir": str(d / "dvclive"),
            "model": asdict(MODEL), "train": TRAIN, "seed": 3}


def test_two_processes_train_the_same_model_as_one(data):
    """Same config, same global batch (grad_accum 2: one micro-batch per rank, or both in one
    process), so the same rows in every step. The averaged gradient is then the same up to
    summation order, and here exactly the same: each rank's gradient is computed as in the
    single process (one thread each), scaled by powers of two (exact in floating point), and
    a sum of two terms does not depend on their order. So the weights are asserted equal
    bit for bit, which a wrong shard (two ranks on the same rows), a wrong gradient scale
    (a sum instead of a mean) or an unsynchronised replica would all break."""
    run(job(data, "one"), processes=1, threads=1)
    run(job(data, "two"), processes=2, threads=2)
    one = json.loads((data / "one" / "metrics.json").read_text())
    two = json.loads((data / "two" / "metrics.json").read_text())
    assert (one["processes"], two["processes"]) == (1, 2)
    digests = two["replica_weights_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]  # the ranks agree on the weights
    a = load_model(data / "one" / "model.pt").state_dict()
    b = load_model(data / "two" / "model.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert weights_digest(load_model(data / "two" / "model.pt")) == digests[0]
    assert [h["train_loss"] for h in two["history"]] == [h["train_loss"] for h in one["history"]]
    # Rank 0 alone wrote the files: one curve, each step once, and the resumable state.
    rows = (data / "two" / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [r.split("\t")[0] for r in rows] == ["step", "1", "2", "3", "4", "5", "6"]
    assert torch.load(data / "two" / "state.pt", weights_only=False)["step"] == 6


def test_micro_batches_are_shared_out_by_rank():
    cpu = torch.device("cpu")
    assert [list(my_micro_batches(Ranks(r, 2, cpu), 4)) for r in (0, 1)] == [[0, 1], [2, 3]]
    assert list(my_micro_batches(Ranks(0, 1, cpu), 4)) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="multiple of the 3 processes"):
        my_micro_batches(Ranks(0, 3, cpu), 4)


def test_a_batch_that_cannot_be_shared_out_fails_before_starting(data):
    bad = job(data, "bad")
    bad["train"] = dict(TRAIN, grad_accum=3)  # not a multiple of 2 processes
    with pytest.raises(ValueError, match="grad_accum 3 must be a multiple of the 2 processes"):
        run(bad, processes=2, threads=2)
    assert not (data / "bad").exists()

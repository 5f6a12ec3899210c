"""Damaged checkpoints, on real files: a model that cannot be read or is of the other family
fails naming the file; a training state that cannot be read is set aside and training starts
afresh. Each damage is done to a file the code wrote (cut short, replaced by text)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.families import load_model
from transcendence.model.checkpoint import save_model
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.play.evaluate import run_shard
from transcendence.players.player import Player
from transcendence.families.text.training import train
from transcendence.training.train import TrainConfig

from .conftest import TINY_MODEL_SIZES
from .fake_engine import make_engine


def _damage(path: Path, how: str) -> None:
    """Cut a real file to half its bytes, or put a text file in its place."""
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_text("model.pt: see results/models/README\n")


@pytest.mark.parametrize("how", ["truncated", "text"])
def test_a_damaged_model_checkpoint_fails_naming_the_file_and_what_is_wrong(tmp_path, how):
    """torch.load said ``OSError: [Errno 22]`` (truncated) or ``IndexError: pop from empty list``
    (text), naming no file."""
    path = tmp_path / "model.pt"
    save_model(path, GPT(GPTConfig(**TINY_MODEL_SIZES)), {})
    _damage(path, how)
    with pytest.raises(ValueError, match=rf"^{path} is not a readable checkpoint \(truncated, or not one at all\)"):
        load_model(path)


def test_a_board_checkpoint_in_a_text_run_is_refused_at_load_naming_both(tmp_path):
    """Through the evaluation shard, as the workflow runs it: the board network would otherwise
    play its games in legal_moves mode without a word."""
    board = tmp_path / "model.pt"
    save_model(board, BoardNet(BoardNetConfig(channels=8, blocks=1)).eval(), {}, family="board")
    with pytest.raises(ValueError, match=rf"^{board} is a board-family checkpoint, but model.family is text$"):
        run_shard(board, tmp_path / "g.pgn", tmp_path / "g.csv", cap=400, temperature=1.0,
                  opponent=Player("fake-d1", 500, {"depth": 1}), games=2, seed=5, mode="legal_moves",
                  max_tries=5, max_fullmoves=4, engine_path=make_engine(tmp_path / "e"), family="text")
    assert not (tmp_path / "g.csv").exists()
    assert isinstance(load_model(board, family="board"), BoardNet)
    text = tmp_path / "text.pt"
    save_model(text, GPT(GPTConfig(**TINY_MODEL_SIZES)), {})
    with pytest.raises(ValueError, match=rf"^{text} is a text-family checkpoint, but model.family is board$"):
        load_model(text, family="board")


def _train(data: Path, out: str, state: Path | None, log: io.StringIO) -> bytes:
    cfg = TrainConfig(max_steps=4, batch_size=4, learning_rate=1e-2, min_lr=1e-3, warmup_steps=1,
                      eval_interval=2, eval_batches=1, checkpoint_interval=2, log_interval=1, seed=3)
    train(data / "train.bin", data / "val.bin", data / out / "model.pt", data / out / "metrics.json",
          GPTConfig(**TINY_MODEL_SIZES), cfg, state_path=state, threads=1, log=log)
    return (data / out / "model.pt").read_bytes()


@pytest.mark.parametrize("how", ["truncated", "text"])
def test_a_damaged_training_state_is_set_aside_and_training_starts_afresh(tiny_train_data, how):
    """A state torch cannot read stopped training until a person deleted it. Now it is renamed
    (kept for a look), logged, and the run trains the model an uninterrupted fresh run trains."""
    data = tiny_train_data
    state = data / "train_state.pt"
    _train(data, "first", state, io.StringIO())
    _damage(state, how)
    damaged = state.read_bytes()
    log = io.StringIO()
    resumed = _train(data, "again", state, log)
    assert f"[train] {state} is not a readable checkpoint" in log.getvalue()
    assert f"set aside as {state}.damaged; starting afresh" in log.getvalue()
    assert (data / "train_state.pt.damaged").read_bytes() == damaged
    assert resumed == _train(data, "fresh", None, io.StringIO())
    assert torch.load(state, weights_only=False)["step"] == 4  # the new run's own state

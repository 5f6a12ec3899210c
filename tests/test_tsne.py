"""t-SNE of the last hidden state: the states are the output head's input, and one run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from transcendence.analysis.game_positions import model_positions
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.pgn.text import format_pgn
from transcendence.model.checkpoint import save_model
from transcendence.analysis.tsne import neighbour_r2, run_tsne
from transcendence.families.text.hidden_states import last_hidden_states
from transcendence.pgn.vocab import encode

GAME = ["e4", "e5", "Nf3", "Nc6", "Bb5", "a6", "Ba4", "Nf6", "O-O", "Be7", "Re1", "b5", "Bb3", "d6", "c3", "O-O"]


@pytest.fixture(scope="module")
def games(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "games.pgn"
    path.write_text(format_pgn({"White": "chessformer-cap400", "Black": "x", "Result": "*"}, GAME, "1/2-1/2")
                    + format_pgn({"White": "x", "Black": "chessformer-cap400", "Result": "*"}, GAME[:12], "1/2-1/2"))
    return path


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=255)).eval()


def test_hidden_state_is_what_the_output_head_reads_at_the_prompts_end(model, games):
    positions = model_positions(games, model.config.block_size)
    hidden = last_hidden_states(model, positions)
    assert hidden.shape == (len(positions), 32)
    for i, p in enumerate(positions):
        logits = model(torch.from_numpy(encode(p.prompt).astype("int64"))[None])[0][0, -1]
        assert torch.allclose(model.lm_head(torch.from_numpy(hidden[i])), logits, atol=1e-4), p
    assert not model.ln_f._forward_hooks  # the hook is gone


def test_neighbour_r2_tells_smooth_from_random_colouring():
    points = np.random.default_rng(0).uniform(size=(300, 2))
    assert neighbour_r2(points, points[:, 0]) > 0.95
    assert neighbour_r2(points, np.random.default_rng(1).uniform(size=300)) < 0.1


def test_run_tsne_writes_a_map_of_every_position(model, games, tmp_path):
    path = tmp_path / "model.pt"
    save_model(path, model, {})
    result = run_tsne(path, games, tmp_path / "t.json", [tmp_path / "t.png"], cap=400, positions=None,
                      perplexity=30, limit={"depth": 3}, seed=1, engine_path="stockfish",
                      cache_dir=tmp_path / "cache")
    n = len(model_positions(games, 255))
    assert result["positions"] == n == len(result["points"]) and result["perplexity"] < n
    assert json.loads((tmp_path / "t.json").read_text())["positions"] == n
    assert all(0 <= p["win"] <= 1 and np.isfinite([p["x"], p["y"]]).all() for p in result["points"])
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"

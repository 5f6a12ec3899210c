"""The family seam: the registry, what every family promises, and the third family (linear)
trained and played through the same entry points as the workflow's jobs."""

from __future__ import annotations

import io
import json
import random

import pytest
import torch
import yaml

from transcendence.config_check import check_schema, cross_key_problems
from transcendence.families import FAMILIES, family_named, family_of, load_model, model_player
from transcendence.families.sampling import MODES
from transcendence.families.train_job import run as train_job
from transcendence.files import atomic_text
from transcendence.play.evaluate import run_shard
from transcendence.players.player import Player

from .conftest import ROOT
from .helpers import random_game

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_every_family_names_itself_once_and_plays_a_known_mode():
    assert len({f.label for f in FAMILIES.values()}) == len(FAMILIES)
    for name, family in FAMILIES.items():
        assert family.name == name and family_named(name) is family
        assert family.dataset_suffix and "legal_moves" in family.modes and set(family.modes) <= set(MODES)
        assert model_player(family.player_name(400)) and not model_player(f"{family.label}-400")
    assert not model_player("eps0.5")
    with pytest.raises(ValueError, match="unknown model family 'nope'; the families are text, board"):
        family_named("nope")


def test_the_schema_lists_exactly_the_registered_families():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["properties"]["model"]["properties"]["family"]["enum"] == list(FAMILIES)


def _board_config(**model) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "smoke-board.yaml").read_text())
    cfg["model"] = {"family": "linear", **model}
    return cfg


def test_a_linear_config_passes_the_start_up_check_and_its_family_rules_hold():
    cfg = _board_config()
    check_schema(cfg, SCHEMA)
    assert cross_key_problems(cfg) == []
    per_character = {**cfg, "evaluate": {**cfg["evaluate"], "mode": "per_character"}}
    assert "evaluate.mode 'per_character': the linear family samples in legal_moves mode only" in cross_key_problems(per_character)
    two_gpus = {**cfg, "train_overrides": {"400": {"gpus": 2}}}
    assert ("train_overrides.400.gpus (2): the linear family trains on one device; set it to 0 or 1"
            in cross_key_problems(two_gpus))


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """Games -> the family's data set -> the train job (as the train rule runs it) -> one
    evaluation shard against Stockfish: the whole path of a model family, in seconds."""
    root = tmp_path_factory.mktemp("linear")
    rng = random.Random(4)
    dump = root / "d.pgn"
    with atomic_text(dump) as fh:
        for i in range(30):
            sans = random_game(rng, 40)
            moves = " ".join(f"{n // 2 + 1}. {s}" if n % 2 == 0 else s for n, s in enumerate(sans))
            fh.write(f'[Event "t"]\n[White "a{i}"]\n[Black "b{i}"]\n[Result "*"]\n\n{moves} *\n\n')
    family = family_named("linear")
    data = root / "data"
    family.build_dataset([dump], data / f"train.{family.dataset_suffix}", data / f"val.{family.dataset_suffix}",
                         data / "meta.json", block_size=0, val_fraction=0.2, shuffle_bucket_mb=1, seed=1, workers=1,
                         log=io.StringIO())
    train = {"max_steps": 12, "batch_size": 16, "learning_rate": 0.01, "min_lr": 0.001, "warmup_steps": 2,
             "eval_interval": 6, "eval_batches": 2, "checkpoint_interval": 6, "log_interval": 3}

    def trained(tag: str) -> dict:
        out = root / tag
        job = {"train_bin": str(data / "train.pos"), "val_bin": str(data / "val.pos"),
               "model_out": str(out / "model.pt"), "metrics_out": str(out / "metrics.json"),
               "state_path": str(out / "train_state.pt"), "live_dir": None,
               "model": {"family": "linear"}, "train": train, "seed": 5}
        log = io.StringIO()
        train_job(job, processes=1, threads=1, log=log)
        return {"path": out / "model.pt", "metrics": json.loads((out / "metrics.json").read_text()), "log": log.getvalue()}

    first, second = trained("a"), trained("b")
    summary = run_shard(first["path"], root / "eval" / "g.pgn", root / "eval" / "g.csv", cap=400, temperature=1.0,
                        opponent=Player("eps0.5", 780, {"depth": 1}, eps=0.5), games=2, seed=1, mode="legal_moves",
                        max_tries=5, max_fullmoves=15, engine_path="stockfish", family="linear", log=io.StringIO())
    return {"first": first, "second": second, "root": root, "summary": summary}


def test_the_linear_family_trains_deterministically_through_the_train_job(linear_run):
    first, second = linear_run["first"], linear_run["second"]
    assert first["path"].read_bytes() == second["path"].read_bytes()
    checkpoint = torch.load(first["path"], weights_only=True)
    assert checkpoint["family"] == "linear" and checkpoint["model_config"] == {} and checkpoint["step"] == 12
    metrics = first["metrics"]
    assert metrics["family"] == "linear" and metrics["steps"] == 12 and metrics["parameters"] == 19 * 73 + 73
    assert [p["step"] for p in metrics["history"]] == [6, 12] and "val_top1" in metrics["history"][-1]
    assert "linear policy, 1,460 parameters" in first["log"]


def test_the_linear_family_loads_and_plays_an_evaluation_shard(linear_run):
    from transcendence.families.linear.network import LinearPolicy

    model = load_model(linear_run["first"]["path"], family="linear")
    assert isinstance(model, LinearPolicy) and family_of(model) is family_named("linear")
    with pytest.raises(ValueError, match="is a linear-family checkpoint, but model.family is board"):
        load_model(linear_run["first"]["path"], family="board")
    assert linear_run["summary"]["games"] == 2
    pgn = (linear_run["root"] / "eval" / "g.pgn").read_text()
    assert '[White "linearnet-cap400"]' in pgn and '[Black "linearnet-cap400"]' in pgn
    rows = (linear_run["root"] / "eval" / "g.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",legal_moves," in r for r in rows[1:])

"""Rule expected_reward: the model's, the players' and the ideal learner's mean expected reward over one cap's positions."""

import json
from pathlib import Path

from transcendence.analysis.reward import run_expected_reward
from transcendence.logs import logged
from transcendence.players.config import synthetic_players

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cfg, synthetic = sm.params.reward, sm.params.synthetic
    meta = json.loads(Path(sm.input.meta).read_text()) if sm.input.get("meta") else {}
    run_expected_reward(
        sm.input.model, list(sm.input.data), sm.output.json, sm.output.md, [sm.output.png, sm.output.pdf],
        cap=int(sm.wildcards.cap),
        players=synthetic_players(synthetic["players"], synthetic["limit"], synthetic["mistakes"], sm.params.seed),
        temperatures=sm.params.temperatures, positions=cfg["positions"], value_limit=cfg["limit"],
        val_fraction=sm.params.val_fraction, resamples=cfg["bootstrap"], seed=sm.params.seed,
        engine_path=sm.params.engine, cache_dir=sm.params.cache, val_games_expected=meta.get("val_games"),
        threads=sm.threads, device=sm.params.device, log=log,
    )

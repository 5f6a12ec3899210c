"""Rule expected_reward: the model's and the players' mean expected reward over one cap's positions."""

import json
from pathlib import Path

from transcendence.analysis.reward import run_expected_reward
from transcendence.data.synthetic import players_from_config
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cfg = sm.params.reward
    meta = json.loads(Path(sm.input.meta).read_text()) if sm.input.get("meta") else {}
    run_expected_reward(
        sm.input.model, list(sm.input.data), sm.output.json, sm.output.md, [sm.output.png, sm.output.pdf],
        cap=int(sm.wildcards.cap), players=players_from_config(sm.params.synthetic["players"]),
        temperatures=sm.params.temperatures, positions=cfg["positions"], value_limit=cfg["limit"],
        player_limit=sm.params.synthetic["limit"], mistakes=sm.params.synthetic.get("mistakes", "independent"),
        val_fraction=sm.params.val_fraction, resamples=cfg["bootstrap"], seed=sm.params.seed,
        engine_path=sm.params.engine, cache_dir=sm.params.cache, val_games_expected=meta.get("val_games"),
        threads=sm.threads, device=sm.params.device, log=log,
    )

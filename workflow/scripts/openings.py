"""Rule openings: one cap's opening suite (held_out or random), played by every shard of the cap."""

import json
from pathlib import Path

from transcendence.families import family_named
from transcendence.logs import logged
from transcendence.play.openings import OpeningSuite, build_openings

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    suite = OpeningSuite.from_config(sm.params.openings)
    games = source = None
    if suite.suite == "held_out":
        source, games = family_named(sm.params.family).held_out_games(
            dumps=list(sm.input.get("data", [])), val=sm.input.get("val"),
            meta=json.loads(Path(sm.input.meta).read_text()), val_fraction=sm.params.val_fraction,
            seed=sm.params.seed, first_plies=suite.plies + 1,
        )
    build_openings(sm.output.json, suite, count=sm.params.games // 2, seed=sm.params.seed,
                   cap=int(sm.wildcards.cap), held_out=games, source=source, log=log)

"""Rule synthetic_games: one shard of games between synthetic players."""

from transcendence.data.synthetic import generate_shard, players_from_config
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    summary = generate_shard(
        sm.output[0],
        players_from_config(sm.params.players),
        sm.params.games,
        seed=sm.params.seed,
        shard=int(sm.wildcards.shard),
        engine_path=sm.params.engine,
        limit=sm.params.limit,
        max_plies=sm.params.max_plies,
        mistakes=sm.params.mistakes,
        log=log,
    )
    print(summary, file=log)

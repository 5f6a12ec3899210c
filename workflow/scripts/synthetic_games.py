"""Rule synthetic_games: one shard of games between synthetic players."""

from transcendence.data.synthetic import generate_shard
from transcendence.logs import logged
from transcendence.players.config import synthetic_players

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    summary = generate_shard(
        sm.output[0],
        synthetic_players(sm.params.players, sm.params.limit, sm.params.mistakes, sm.params.seed),
        sm.params.games,
        seed=sm.params.seed,
        shard=int(sm.wildcards.shard),
        engine_path=sm.params.engine,
        max_plies=sm.params.max_plies,
        log=log,
    )
    print(summary, file=log)

"""Rule player_ratings: the synthetic ladder measured from its own games."""

from transcendence.logs import logged
from transcendence.rating.ladder import write_player_ratings

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    for p in write_player_ratings(list(sm.input), sm.params.players, sm.params.anchor, sm.output[0]):
        print(f"{p.name}: {p.rating:.0f} [{p.ci_low:.0f}, {p.ci_high:.0f}] over {p.games} games", file=log)

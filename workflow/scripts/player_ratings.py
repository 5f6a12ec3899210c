"""Rule player_ratings: the synthetic ladder measured from its own games."""

import sys
from pathlib import Path

# The package lives in src/; jobs import it whether or not their environment installed it.
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from transcendence.rating.ladder import write_player_ratings
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    for p in write_player_ratings(list(sm.input), sm.params.players, sm.params.anchor, sm.output[0]):
        print(f"{p.name}: {p.rating:.0f} [{p.ci_low:.0f}, {p.ci_high:.0f}] over {p.games} games", file=log)

"""Rule ratings: one rating per (cap, temperature), two estimators side by side."""

import sys
from pathlib import Path

# The package lives in src/; jobs import it whether or not their environment installed it.
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from transcendence.files import read_json
from transcendence.logs import logged
from transcendence.rating import Glicko2
from transcendence.summary import rate_rows, read_tables, write_ratings

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    best: dict[int, float] = {}
    for path in sm.input.stats:
        for cap, rating in read_json(path)["best_rating_per_cap"].items():
            best[int(cap)] = max(best.get(int(cap), 0), rating)
    g = sm.params.glicko2
    rows = rate_rows(read_tables(sm.input.tables), best,
                     glicko_start=Glicko2(g["rating"], g["rd"], g["volatility"]), tau=g["tau"])
    write_ratings(rows, sm.output.csv, sm.output.md, sm.output.json)
    print(f"{len(rows)} (cap, temperature) rows written", file=log)

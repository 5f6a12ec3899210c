"""Rule diversity: normalised entropy of the moves played in each cap's common positions."""

from transcendence.analysis.diversity import diversity
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cfg = sm.params.diversity
    inputs = {cap: [p for p in sm.input if p.endswith(f"/cap{cap}.pgn.zst")] for cap in sm.params.caps}
    result = diversity(inputs, plies=cfg["plies"], min_count=cfg["min_count"], max_games=cfg["max_games"],
                       reference=cfg.get("reference"), json_out=sm.output.json, csv_out=sm.output.csv,
                       figures=[sm.output.png])
    for cap, info in result["caps"].items():
        print(f"cap {cap}: {info}", file=log)

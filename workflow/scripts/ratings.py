"""Rule ratings: one rating per (cap, temperature), two estimators side by side."""

from transcendence.files import read_json
from transcendence.logs import logged
from transcendence.rating.calibration import read_calibrated
from transcendence.rating.systems import Glicko2
from transcendence.rating.table import best_in_data, best_players, rate_rows, read_tables, write_ratings

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    measured = read_calibrated(sm.input.calibration) if sm.params.anchors == "calibrated" else None
    best = best_in_data([read_json(p) for p in sm.input.stats], players=sm.params.players, measured=measured)
    g = sm.params.glicko2
    names = best_players(sm.params.players, best, measured)
    rows = rate_rows(read_tables(sm.input.tables), best, opponent_ratings=measured, anchors=sm.params.anchors,
                     best_player_by_cap=names,
                     glicko_start=Glicko2(g["rating"], g["rd"], g["volatility"]), tau=g["tau"])
    write_ratings(rows, sm.output.csv, sm.output.md, sm.output.json)
    print(f"{len(rows)} (cap, temperature) rows written ({sm.params.anchors} anchors)", file=log)

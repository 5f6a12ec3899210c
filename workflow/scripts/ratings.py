"""Rule ratings: one rating per (cap, temperature), two estimators side by side."""

from transcendence.files import read_json
from transcendence.logs import logged
from transcendence.rating.calibrated import read_calibration
from transcendence.rating.pairs import SequentialTest
from transcendence.rating.systems import Glicko2
from transcendence.rating.table import best_in_data, best_players, rate_rows, read_tables, write_ratings

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    calibration = (read_calibration(sm.input.calibration, sm.input.calibration_games)
                   if sm.params.anchors == "calibrated" else None)
    measured = {name: r.rating for name, r in calibration.ratings.items()} if calibration else None
    best = best_in_data([read_json(p) for p in sm.input.stats], players=sm.params.players, measured=measured)
    g = sm.params.glicko2
    names = best_players(sm.params.players, best, measured)
    rows = rate_rows(read_tables(sm.input.tables), best, opponent_ratings=measured, anchors=sm.params.anchors,
                     best_player_by_cap=names, calibration=calibration,
                     sequential=SequentialTest.from_config(sm.params.sequential),
                     shuffles=sm.params.glicko2_shuffles,
                     glicko_start=Glicko2(g["rating"], g["rd"], g["volatility"]), tau=g["tau"])
    write_ratings(rows, sm.output.csv, sm.output.md, sm.output.json)
    print(f"{len(rows)} (cap, temperature) rows written ({sm.params.anchors} anchors)", file=log)

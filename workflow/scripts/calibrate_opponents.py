"""Rule calibrate_opponents: a round robin among the opponents and the anchor, rated by ML."""

from transcendence.engine.uci import find_engine
from transcendence.logs import logged
from transcendence.play.opponent import Opponent
from transcendence.rating.calibration import calibrate, players_as_opponents

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cal = sm.params.calibration
    extra = players_as_opponents(sm.params.players, sm.params.player_limit) if sm.params.players else []
    calibrate([Opponent.from_config(o) for o in sm.params.opponents], Opponent.from_config(cal["anchor"]),
              games_per_pair=cal["games_per_pair"], seed=sm.params.seed, engine_path=find_engine(sm.params.engine),
              max_fullmoves=sm.params.max_fullmoves, pgn_out=sm.output.pgn, csv_out=sm.output.csv,
              json_out=sm.output.json, extra=extra, workers=sm.threads, log=log,
              personas={str(p["name"]): p.get("persona", "uniform") for p in sm.params.players},
              shared_seed=sm.params.seed if sm.params.mistakes == "shared" else None)

"""Rule calibrate_opponents: a round robin among the opponents and the anchor, rated by ML."""

from transcendence.engine.uci import find_engine
from transcendence.logs import logged
from transcendence.players.config import opponents, synthetic_players
from transcendence.players.player import Player
from transcendence.rating.calibration import calibrate

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cal, seed = sm.params.calibration, sm.params.seed
    extra = synthetic_players(sm.params.players, sm.params.player_limit, sm.params.mistakes, seed)
    calibrate(opponents(sm.params.opponents, sm.params.mistakes, seed, sm.params.personas),
              Player.from_config(cal["anchor"]),
              games_per_pair=cal["games_per_pair"], seed=seed, engine_path=find_engine(sm.params.engine),
              max_fullmoves=sm.params.max_fullmoves, pgn_out=sm.output.pgn, csv_out=sm.output.csv,
              json_out=sm.output.json, extra=extra, workers=sm.threads, log=log)

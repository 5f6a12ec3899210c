"""Rule evaluate: one (cap, temperature, opponent) shard of games against Stockfish."""

from transcendence.logs import logged
from transcendence.play.evaluate import run_shard
from transcendence.play.openings import load_openings
from transcendence.players.config import opponents

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    opponent, = opponents([sm.params.opponent], sm.params.mistakes, sm.params.seed,
                          {sm.wildcards.opponent: sm.params.persona})
    summary = run_shard(
        sm.input.model, sm.output.pgn, sm.output.table,
        cap=int(sm.wildcards.cap), temperature=float(sm.wildcards.temperature),
        opponent=opponent, games=sm.params.games,
        seed=sm.params.seed, mode=sm.params.mode, max_tries=sm.params.max_tries,
        max_fullmoves=sm.params.max_fullmoves, engine_path=sm.params.engine,
        threads=sm.threads, device=sm.params.device, batch_games=sm.params.batch_games,
        # Read from the config, not a param: the model file already changes with the family.
        family=sm.config["model"]["family"],
        # The suite and its openings come from the file (none: suite start, the paper's protocol).
        openings=load_openings(sm.input.openings) if sm.input.get("openings") else None, log=log,
    )
    print(summary, file=log)

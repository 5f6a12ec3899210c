"""Rule favor: the paper's favor analysis (Table 1) of one cap's model."""

from transcendence.analysis.favor import run_favor
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cfg = sm.params.favor
    run_favor(
        sm.input.model, sm.input.games, sm.output.json, sm.output.md, [sm.output.png, sm.output.pdf],
        cap=int(sm.wildcards.cap), temperatures=cfg["temperatures"], samples=cfg["samples"],
        positions=cfg["positions"], limit=cfg["limit"], resamples=cfg["bootstrap"], seed=sm.params.seed,
        mode=sm.params.mode, engine_path=sm.params.engine, cache_dir=sm.params.cache, threads=sm.threads,
        device=sm.params.device, reference=cfg.get("reference"), log=log,
    )

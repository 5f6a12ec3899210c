"""Rule tsne: t-SNE of one cap's model's last hidden state, coloured by Stockfish."""

from transcendence.analysis.tsne import run_tsne
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    cfg = sm.params.tsne
    run_tsne(
        sm.input.model, sm.input.games, sm.output.json, [sm.output.png], cap=int(sm.wildcards.cap),
        positions=cfg["positions"], perplexity=cfg["perplexity"], limit=cfg["limit"], seed=sm.params.seed,
        engine_path=sm.params.engine, cache_dir=sm.params.cache, threads=sm.threads,
        device=sm.params.device, log=log,
    )

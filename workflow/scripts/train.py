"""Rule train: one model of the config's family per cap, resumable, on one process or data-parallel (torchrun)."""

from transcendence.families.train_job import run
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    run(
        {
            "train_bin": sm.input.train, "val_bin": sm.input.val,
            "model_out": sm.output.model, "metrics_out": sm.output.metrics,
            "state_path": sm.params.state, "live_dir": sm.params.live,
            "model": dict(sm.params.model), "train": dict(sm.params.train), "seed": sm.params.seed,
        },
        processes=sm.params.processes, threads=sm.threads, log=log,
    )

"""Rule dataset: a cap's games as the model family's train/val data (packed text blocks, positions...)."""

from transcendence.families import family_named
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
# Pass 1 runs sm.threads processes; where they start by spawn or forkserver (macOS, Python
# 3.14+), they import this file as __mp_main__, which must not build the dataset again.
if __name__ == "__main__":
    with logged(sm.log[0]) as log:
        family_named(sm.params.family).build_dataset(
            list(sm.input), sm.output.train, sm.output.val, sm.output.meta,
            block_size=sm.params.block_size, val_fraction=sm.params.val_fraction,
            shuffle_bucket_mb=sm.params.shuffle_bucket_mb, seed=sm.params.seed, workers=sm.threads, log=log,
        )

"""Rule train: one ChessFormer per cap, resumable from its training state."""

from transcendence.logs import logged
from transcendence.model import GPTConfig
from transcendence.train import TrainConfig, train

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    train(
        sm.input.train, sm.input.val, sm.output.model, sm.output.metrics,
        GPTConfig(**sm.params.model), TrainConfig.from_config(sm.params.train, sm.params.seed),
        state_path=sm.params.state, threads=sm.threads, log=log,
    )

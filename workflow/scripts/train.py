"""Rule train: one ChessFormer per cap, resumable from its training state."""

import sys
from pathlib import Path

# The package lives in src/; jobs import it whether or not their environment installed it.
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

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

"""Rule download_month: one Lichess monthly dump, resumable and checksum-verified."""

import sys
from pathlib import Path

# The package lives in src/; jobs import it whether or not their environment installed it.
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from transcendence.data.download import download_month
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    download_month(sm.wildcards.month, sm.params.base_url, Path(sm.output[0]), sha256=sm.params.sha256, log=log)

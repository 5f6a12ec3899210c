"""Rule download_month: one Lichess monthly dump, resumable and checksum-verified."""

from pathlib import Path

from transcendence.data.download import download_month
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    download_month(sm.wildcards.month, sm.params.base_url, Path(sm.output[0]), sha256=sm.params.sha256, log=log)

"""Rule diagnostics: forfeits, illegal tries and game lengths per cap."""

from transcendence.analysis.figures import diagnostics
from transcendence.logs import logged
from transcendence.rating.table import read_tables

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]):
    diagnostics(read_tables(sm.input), [sm.output.png, sm.output.pdf])

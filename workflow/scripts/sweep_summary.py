"""Rule sweep_summary: every condition's rating, head-to-head and expected-reward margins in one
table and figure; a replicate sweep's with its across-seed rows and its figure by seed."""

from transcendence.analysis.sweep import read_condition, write_sweep_summary
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    rows = [row for condition, settings in sm.params.conditions.items()
            for row in read_condition(condition, settings, sm.params.ratings[condition],
                                      sm.params.rewards.get(condition, []))]
    table = write_sweep_summary(sm.params.kind, rows, sm.output.csv, [sm.output.png, sm.output.pdf],
                                sweep=sm.params.sweep)
    print(f"a sweep of {sm.params.kind}: {len(table)} rows from {len(sm.params.conditions)} conditions", file=log)

"""Rule sweep_summary: every condition's rating, head-to-head and expected-reward margins in one table and figure."""

from transcendence.analysis.sweep import read_condition, summary_figure, write_summary
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    rows = [row for condition, settings in sm.params.conditions.items()
            for row in read_condition(condition, settings, sm.params.ratings[condition],
                                      sm.params.rewards.get(condition, []))]
    write_summary(rows, sm.output.csv)
    summary_figure(rows, [sm.output.png, sm.output.pdf], title=f"Sweep {sm.params.sweep}: margins over the best player in the data")
    print(f"{len(rows)} rows from {len(sm.params.conditions)} conditions", file=log)

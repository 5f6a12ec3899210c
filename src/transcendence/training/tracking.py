"""Training curves with DVCLive, kept consistent across a kill and a resume.

DVCLive appends one row per logged step to ``<dir>/plots/metrics/<name>.tsv``, which
``dvc plots show`` draws (dvc.yaml declares the directory as the train stage's plots). A
run killed after its last checkpoint has logged steps that the resumed run will log again;
those rows are cut first, so every series holds each step once, exactly as a run that never
stopped would have written it. DVCLive is told not to write a dvc.yaml or save a DVC
experiment of its own: the project's dvc.yaml owns the pipeline.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Mapping

from ..files import atomic_text


def _cut_rows_after(tsv: Path, step: int) -> None:
    rows = list(csv.DictReader(io.StringIO(tsv.read_text(encoding="utf-8")), delimiter="\t"))
    kept = [r for r in rows if int(r["step"]) <= step]
    if len(kept) == len(rows):
        return
    fields = list(rows[0].keys())
    with atomic_text(tsv) as fh:
        writer = csv.DictWriter(fh, fields, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)


class Curves:
    """A DVCLive run in ``directory``, fresh or resumed at ``step``."""

    def __init__(self, directory: str | Path, *, resume_step: int | None) -> None:
        from dvclive import Live  # imported here: only the process that logs needs it

        self.directory = Path(directory)
        if resume_step is not None:
            for tsv in sorted((self.directory / "plots" / "metrics").rglob("*.tsv")):
                _cut_rows_after(tsv, resume_step)
        self.live = Live(str(self.directory), resume=resume_step is not None, report=None,
                         save_dvc_exp=False, dvcyaml=None)

    def log(self, step: int, values: Mapping[str, float]) -> None:
        """One row per metric at ``step``, and the summary (``metrics.json``) updated."""
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, float(value))
        self.live.make_summary()

    def close(self) -> None:
        self.live.end()

"""Rule figure1: rating against temperature, one panel per cap."""

from transcendence.analysis.figures import figure1
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]):
    ref = sm.params.reference
    reference = ({int(c): {float(t): float(r) for t, r in pts.items()} for c, pts in ref.items()}
                 if ref else None)
    figure1(sm.input[0], [sm.output.png, sm.output.pdf],
            title=f"Rating vs temperature: {sm.params.reads}, ML Elo, {sm.params.mode} sampling, "
                  f"{sm.params.anchors} anchors", reference=reference)

"""Rule theory: the paper's toy experiment, accuracy against temperature over noise levels."""

import os
import sys

# One BLAS thread per job thread, set before numpy loads: on a busy machine, more threads
# than the job was given make the many small products several times slower.
NUMPY_PRELOADED = "numpy" in sys.modules
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(snakemake.threads)  # noqa: F821

from transcendence.analysis.theory import theory
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    print(f"BLAS threads: {sm.threads} (numpy loaded before the setting: {NUMPY_PRELOADED})", file=log)
    rows = theory(sm.params.theory, sm.params.seed, sm.output.csv, [sm.output.png, sm.output.pdf])
    print(f"{len(rows)} rows; transcends in {sum(int(r['transcends']) for r in rows)}", file=log)

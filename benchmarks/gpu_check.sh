#!/usr/bin/env bash
# The prepared GPU check (issue 19) in one command: training, evaluation and the CUDA path of
# the workflow, each measured against its baseline; gpu_check.json and gpu_check.md land in
# OUT_DIR. benchmarks/README.md says how to run it on a lent GPU machine.
#
#   bash benchmarks/gpu_check.sh OUT_DIR            # the paper's model on one GPU (about 8 minutes)
#   bash benchmarks/gpu_check.sh OUT_DIR --tiny     # the same sections on a CPU, small (about a minute)
#
# A machine without python-chess or zstandard (the lent GPU machine has no network) gets them
# from the wheels `make gpu-bundle` put in gpu-bundle/wheels (GPU_BUNDLE overrides the folder).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT_DIR=${1:?usage: benchmarks/gpu_check.sh OUT_DIR [--tiny] [gpu_check.py options]}
shift
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
BUNDLE=${GPU_BUNDLE:-$ROOT/gpu-bundle}
if ! "$PYTHON" -c 'import chess, zstandard' 2>/dev/null; then
  if ! ls "$BUNDLE"/wheels/*.whl >/dev/null 2>&1; then
    echo "gpu_check: python-chess or zstandard is missing and $BUNDLE/wheels has no wheels: run make gpu-bundle" >&2
    exit 2
  fi
  SITE=$(mktemp -d)
  "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$BUNDLE"/wheels/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PYTHON" "$ROOT/benchmarks/gpu_check.py" --out "$OUT_DIR" --bundle "$BUNDLE" "$@"

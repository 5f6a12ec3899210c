#!/usr/bin/env bash
# `make gpu-bundle`: gpu-bundle/, what benchmarks/gpu_check.sh needs on a lent GPU machine that
# has Python 3.12 and a CUDA build of PyTorch but no network (benchmarks/README.md):
#   wheels/  python-chess (pure Python; built here, PyPI has only its sdist) and zstandard
#            (cp312 manylinux x86_64), at the versions requirements.txt pins;
#   debs/    Debian's stockfish package, and the C++ runtime and C library it links against,
#            for a machine whose own are too old (gpu_check.py unpacks them with Python);
#   data/    the Lichess-format sample of ../shared/data/lichess-games-sample (a checkout's
#            ../shared does not travel to the device machine).
# The folder is ignored by git; it travels with the device tool's `carry`, whose limit
# (64 MiB, with the working tree) this script checks.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${1:-gpu-bundle}
SAMPLE=${SAMPLE:-../shared/data/lichess-games-sample}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
LIMIT_MIB=${LIMIT_MIB:-64}
pin() { sed -n "s/^$1==//p" requirements.txt; }

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || {
  echo "make gpu-bundle: needs a Debian-like amd64 machine (apt-get download of amd64 packages)" >&2; exit 1; }
[ -f "$SAMPLE/games_rated.pgn.zst" ] || { echo "make gpu-bundle: no $SAMPLE/games_rated.pgn.zst" >&2; exit 1; }

tmp="$BUNDLE.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/wheels" "$tmp/debs" "$tmp/data"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$tmp/wheels" "zstandard==$(pin zstandard)"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$tmp/wheels" "chess==$(pin chess)"
(cd "$tmp/debs" && apt-get download stockfish libstdc++6 libgcc-s1 libc6 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$tmp"/debs/stockfish_*.deb >/dev/null
cp "$SAMPLE/games_rated.pgn.zst" "$SAMPLE/PROVENANCE.md" "$tmp/data/"
chmod -R u+w "$tmp"
(cd "$tmp" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
rm -rf "$BUNDLE"
mv "$tmp" "$BUNDLE"

bundle=$(du -sb "$BUNDLE" | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((bundle + tree))
awk -v b="$bundle" -v t="$tree" -v l="$LIMIT_MIB" -v n="$BUNDLE" 'BEGIN { m = 1048576;
  printf "gpu-bundle: %s %.1f MiB + working tree %.1f MiB = %.1f MiB of the %d MiB that travels\n", n, b/m, t/m, (b+t)/m, l }'
ls -l "$BUNDLE"/wheels "$BUNDLE"/debs "$BUNDLE"/data
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "make gpu-bundle: over the ${LIMIT_MIB} MiB the device tool carries" >&2
  exit 1
fi

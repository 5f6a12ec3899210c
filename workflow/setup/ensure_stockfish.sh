#!/usr/bin/env bash
# Make sure a Stockfish binary is available: on PATH, in /usr/games (Debian), or installed
# now with apt-get when this user may do so. Otherwise say exactly how to get one.
set -euo pipefail
if command -v stockfish >/dev/null 2>&1 || [ -x /usr/games/stockfish ]; then
  exit 0
fi
if bash "$(dirname "$0")/apt_install.sh" stockfish; then
  exit 0
fi
cat >&2 <<'MSG'
Stockfish is required and was not found on PATH or in /usr/games, and it cannot be
installed automatically here. Install it, then run make again:
  Debian/Ubuntu:  sudo apt-get install stockfish
  macOS:          brew install stockfish
  conda:          conda install -c conda-forge stockfish
or set `engine:` in your config to the path of a UCI engine.
MSG
exit 1

#!/usr/bin/env bash
# Make sure a Stockfish binary is available: on PATH, in /usr/games (Debian), or installed
# now with apt-get when this user may do so. Otherwise say exactly how to get one.
set -euo pipefail
if command -v stockfish >/dev/null 2>&1 || [ -x /usr/games/stockfish ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; fi
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
  echo "Stockfish not found: installing Debian's stockfish package with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq stockfish >/dev/null
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

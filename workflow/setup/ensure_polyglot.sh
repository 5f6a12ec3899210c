#!/usr/bin/env bash
# Debian's polyglot (a UCI-to-xboard adapter), through which tests/test_uci.py plays a game
# with a model's UCI engine: on PATH or in /usr/games, or installed now with apt-get when
# this user may. Only that test needs it (it is skipped without), so this never fails.
set -euo pipefail
if command -v polyglot >/dev/null 2>&1 || [ -x /usr/games/polyglot ]; then
  exit 0
fi
bash "$(dirname "$0")/apt_install.sh" polyglot \
  || echo "polyglot not found and not installable here: tests/test_uci.py skips its polyglot game" >&2

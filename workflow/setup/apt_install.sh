#!/usr/bin/env bash
# Install one Debian package with apt-get when this user may (root, or password-less sudo);
# exit 1, saying nothing, when it may not or there is no apt-get.
set -euo pipefail
package="$1"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else exit 1; fi
fi
command -v apt-get >/dev/null 2>&1 || exit 1
echo "$package not found: installing Debian's $package package with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null

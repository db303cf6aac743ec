#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing. The e2e
# tests drive it through playwright-core; nothing downloads a browser build
# of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
fi
/usr/bin/chromium --version

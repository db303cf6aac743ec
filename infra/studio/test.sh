#!/usr/bin/env bash
# The studio's whole test: chromium if missing, node packages from the
# lockfile, unit tests, the build, then the end-to-end run against the
# gateway binary (NOCODE_BIN, default <repo>/target/debug/nocode).
set -euo pipefail
cd "$(dirname "$0")"

bash ./ensure-chromium.sh
npm ci --no-audit --no-fund
npm test
npm run build
npm run e2e

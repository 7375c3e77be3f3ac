#!/usr/bin/env bash
# Prepares the web UI for `atelier serve`: installs npm packages when missing or stale and builds
# web/dist. The server's start command runs it, so it must not need a browser (the browser tests
# install chromium in scripts/test.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.package-lock.json
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund
fi

npm run build

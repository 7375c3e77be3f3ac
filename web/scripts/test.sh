#!/usr/bin/env bash
# Runs the web UI's tests: type check, Vitest unit/component tests, then the browser tests
# against a real server ($ATELIER_BIN, default target/debug/atelier). Installs Debian's chromium
# for the browser tests when it is missing. Run scripts/setup.sh first. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Plain text when piped (logs, CI summaries): Vitest colours its output even then.
if [ ! -t 1 ]; then export NO_COLOR=1; fi

npm run typecheck
npm test

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update && apt-get install -y chromium
  else
    sudo apt-get update && sudo apt-get install -y chromium
  fi
fi

npm run e2e

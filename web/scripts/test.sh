#!/usr/bin/env bash
# Runs the web UI's tests: type check, Vitest unit/component tests, then the browser tests
# against a real server ($ATELIER_BIN, default target/debug/atelier). Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run typecheck
npm test
npm run e2e

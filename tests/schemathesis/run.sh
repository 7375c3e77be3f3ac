#!/usr/bin/env bash
# Schemathesis against the served OpenAPI document: a real `atelier serve --multiuser` on its own
# embedded PostgreSQL, an admin token, and a bounded run (examples, coverage, fuzzing) that fails
# on any 5xx, any undocumented status or content type, and any response off its schema.
# Usage: tests/schemathesis/run.sh [seconds]   (ATELIER_BIN: the server binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
budget=${1:-90}
bin=${ATELIER_BIN:-target/debug/atelier}
venv=.venv
if ! "$venv/bin/st" --version 2>/dev/null | grep -q 4.32.5; then
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ATELIER__DATA_DIR="$data" ATELIER__LISTEN="127.0.0.1:$port" ATELIER__LOG__FORMAT=json \
  ATELIER__AUTH__MAX_ATTEMPTS_PER_ADDRESS=100000 "$bin" serve --multiuser >"$data/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  curl -sf "$base/healthz" >/dev/null && [ -s "$data/secrets/setup_token" ] && break
  sleep 0.5
done
token=$(cat "$data/secrets/setup_token")
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf "$base/api/v1/auth/setup" -H 'content-type: application/json' \
  -d "{\"setup_token\":\"$token\",\"email\":\"admin@example.com\",\"display_name\":\"Admin\",\"password\":\"a long passphrase\"}" >/dev/null
bearer=$(curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@example.com","password":"a long passphrase"}' | json '["token"]')
# Operations that would end the run's own session (logout, the caller's password, the admin's
# account) are left out; everything else is called with the admin's token.
"$venv/bin/st" run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $bearer" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-time "$budget" --workers 2 --seed 7 \
  --exclude-operation-id logout --exclude-operation-id update_me \
  --exclude-operation-id update_user --exclude-operation-id delete_user \
  --exclude-operation-id connect \
  --suppress-health-check all
if grep '"level":"ERROR"' "$data/server.log"; then
  echo "the server logged an error (an internal error answers 500) during the run" >&2
  exit 1
fi
curl -sf "$base/api/v1/auth/me" -H "Authorization: Bearer $bearer" >/dev/null ||
  { echo "the run's session ended: its results are not meaningful" >&2; exit 1; }

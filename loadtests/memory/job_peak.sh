#!/usr/bin/env bash
# Peak resident memory of `atelier serve` with a CPU worker while it runs one large job with the
# tiny SD 1.x-shaped model (random weights: the VAE and UNet shapes are small, so this measures
# the engine's batch and decode memory, not a real model's). Loopback only; bounded by TIMEOUT.
# Usage: loadtests/memory/job_peak.sh BIN WIDTH HEIGHT IMAGES   (prints one line)
set -euo pipefail
bin=$1 width=$2 height=$3 images=$4
timeout_s=${TIMEOUT:-900}
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ATELIER__DATA_DIR="$data" ATELIER__WORKER__DEVICE=cpu ATELIER__WORKER__QUANTUM_SECS=0 \
  ATELIER__LOG__FILTER=warn "$bin" serve --multiuser --listen "127.0.0.1:$port" >"$data.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
base="http://127.0.0.1:$port"
until curl -sf "$base/readyz" >/dev/null; do sleep 0.5; done
"$bin" model write-tiny "$data/tiny" --sd15 >/dev/null 2>&1
ATELIER__DATA_DIR="$data" "$bin" model add "$data/tiny" --name tiny >/dev/null 2>&1
setup=$(cat "$data/secrets/setup_token")
curl -sf "$base/api/v1/auth/setup" -H 'content-type: application/json' \
  -d "{\"setup_token\":\"$setup\",\"email\":\"a@example.com\",\"display_name\":\"A\",\"password\":\"a long passphrase\"}" >/dev/null
token=$(curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"a@example.com","password":"a long passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
idle=$(rss)
answer=$(curl -s "$base/api/v1/queue/items" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"model\":\"tiny\",\"prompt\":\"p\",\"width\":$width,\"height\":$height,\"num_images\":$images,\"steps\":1}")
id=$(echo "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["item_ids"][0])' 2>/dev/null) || {
  echo "${width}x${height}x$images: refused: $answer"; exit 0; }
peak=$idle status=pending start=$(date +%s)
while [ "$status" = pending ] || [ "$status" = in_progress ]; do
  now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
  status=$(curl -sf "$base/api/v1/queue/items/$id" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ $(( $(date +%s) - start )) -gt "$timeout_s" ] && { status=timeout; break; }
  sleep 0.1
done
echo "${width}x${height}x$images: $status in $(( $(date +%s) - start )) s; RSS idle $idle MiB, peak $peak MiB (+$(( peak - idle )) MiB)"

#!/usr/bin/env bash
# Checks the systemd files here without a running systemd: `systemd-analyze verify` on both
# units, systemd-sysusers and systemd-tmpfiles on their files, and `systemd-analyze security
# --offline=true` on both units. Fails on any verify message, or when the server's exposure
# score is above 2.0; prints both scores (the worker's has no bar: the GPU decides it).
# Everything happens in a throwaway root laid out as installed, with a placeholder binary
# (verify wants ExecStart= to exist) and the host's own unit files (for the default targets).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server_max=20   # systemd-analyze security --threshold= counts in tenths: 20 is 2.0

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/usr/local/bin" \
  "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc/atelier"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$here/atelier.service" "$here/atelier-worker@.service" "$root/etc/systemd/system/"
cp "$here/atelier.sysusers.conf" "$root/usr/lib/sysusers.d/atelier.conf"
cp "$here/atelier.tmpfiles.conf" "$root/usr/lib/tmpfiles.d/atelier.conf"
cp "$here/atelier.env" "$root/etc/atelier/atelier.env"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/atelier"
chmod 755 "$root/usr/local/bin/atelier"

# systemd-sysusers says what it created; the other two print nothing when all is well. verify
# reports unknown or unparsable settings on stderr but still exits 0, so any output fails.
run_quiet() {
  local out
  if ! out=$("$@" 2>&1) || [ -n "$out" ]; then
    echo "systemd check failed: $*" >&2
    echo "$out" >&2
    exit 1
  fi
}
if ! out=$(systemd-sysusers --root="$root" atelier.conf 2>&1); then
  echo "systemd check failed: systemd-sysusers" >&2
  echo "$out" >&2
  exit 1
fi
# Creating the directories hands them to atelier, which only root may do.
if [ "$(id -u)" = 0 ]; then
  run_quiet systemd-tmpfiles --root="$root" --create atelier.conf
fi
run_quiet systemd-analyze verify --root="$root" atelier.service atelier-worker@0.service

score() { # unit [threshold]: prints the unit's exposure score; fails above the threshold
  local out rc=0
  out=$(systemd-analyze security --offline=true --root="$root" ${2:+--threshold="$2"} "$1" 2>&1) ||
    rc=$?
  if [ "$rc" != 0 ]; then
    echo "$out" | grep -E '^✗' >&2
    echo "$1: exposure above ${2:-100} tenths, or the check failed (exit $rc)" >&2
    return 1
  fi
  echo "$out" | grep -Eo 'exposure level for [^:]+: [0-9.]+' | sed 's/.* //' || true
}
server=$(score atelier.service "$server_max")
worker=$(score atelier-worker@0.service)
if [ -z "$server" ] || [ -z "$worker" ]; then
  echo "systemd check: no exposure score in systemd-analyze's output" >&2
  exit 1
fi
echo "systemd units: verify ok; exposure atelier.service $server (bar 2.0)," \
  "atelier-worker@0.service $worker"

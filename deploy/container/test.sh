#!/usr/bin/env bash
# The container image, built and tried here (in .ci/test): Debian's buildah and mmdebstrap
# (installed when missing, as root), the release binary, a Debian 12 base made from Debian's own
# mirror (no container registry is reachable), then build.sh's checks inside the image: every
# library found, `atelier --version`, uid 10001, and `serve --print-config` with the image's
# settings. The images are removed afterwards (about 4 GB in buildah's vfs store).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v buildah >/dev/null 2>&1 || ! command -v mmdebstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing buildah and mmdebstrap (the container image test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah mmdebstrap >/dev/null
  else
    echo "buildah and mmdebstrap are missing: sudo apt-get install buildah mmdebstrap" >&2
    exit 1
  fi
fi

cargo build --release --locked --bin atelier
# No user namespaces inside these machines' sandbox: chroot isolation and the vfs driver.
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
cleanup() {
  buildah rm --all >/dev/null 2>&1 || true
  buildah rmi --all --force >/dev/null 2>&1 || true
}
trap cleanup EXIT
ATELIER_BASE=mmdebstrap deploy/container/build.sh localhost/atelier:test 2>&1 | tail -3

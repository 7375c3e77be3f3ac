#!/usr/bin/env bash
# Builds the Atelier image with buildah (or podman) from this checkout:
#   deploy/container/build.sh [TAG]                 # default TAG: localhost/atelier:<version>
#   ATELIER_BASE=mmdebstrap deploy/container/build.sh   # no registry: make the Debian base here
#   ATELIER_OCI_ARCHIVE=atelier.tar deploy/container/build.sh   # also write an OCI archive
# Inside a container without user namespaces (CI machines), buildah needs
#   BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
# Needs: target/release/atelier (cargo build --release --locked), web/dist and .venv with
# torch==2.11.0 (.ci/setup). The context is staged with hard links, so it costs no space.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag=${1:-localhost/atelier:$version}
base=${ATELIER_BASE:-docker.io/library/debian:bookworm-slim}
builder=${BUILDER:-$(command -v buildah || command -v podman || true)}
[ -n "$builder" ] || { echo "needs buildah or podman (apt-get install buildah)" >&2; exit 1; }
[ -x target/release/atelier ] || { echo "target/release/atelier is missing: cargo build --release --locked" >&2; exit 1; }
[ -f web/dist/index.html ] || { echo "web/dist is missing: .ci/setup builds it" >&2; exit 1; }
site=$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')
[ -d "$site/torch/lib" ] && [ -d "$site/nvidia" ] || { echo "torch is missing from .venv: .ci/setup" >&2; exit 1; }

ctx=$(mktemp -d "${TMPDIR:-/tmp}/atelier-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
stage() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
stage target/release/atelier "$ctx/atelier"
stage web/dist "$ctx/web"
stage "$site/torch/lib" "$ctx/torch-lib"
stage "$site/nvidia" "$ctx/nvidia"
cp deploy/container/Containerfile "$ctx/Containerfile"

# Without a reachable registry: a minimal Debian 12 from Debian's own mirror, as a local image.
if [ "$base" = mmdebstrap ]; then
  base=localhost/debian-mmdebstrap:bookworm
  mmdebstrap --variant=minbase --quiet bookworm "$ctx/base.tar"
  printf 'FROM scratch\nADD base.tar /\nCMD ["bash"]\n' >"$ctx/Base.containerfile"
  "$builder" build ${BUILD_FLAGS:-} -f "$ctx/Base.containerfile" -t "$base" "$ctx"
  rm "$ctx/base.tar"
fi

"$builder" build ${BUILD_FLAGS:-} --build-arg "BASE=$base" -f "$ctx/Containerfile" -t "$tag" "$ctx"
# The binary must find every library it links (the check of docs/deploy-systemd.md), start as
# the image's user, and read the image's settings.
check='! ldd /usr/local/bin/atelier | grep "not found" && atelier --version &&
  [ "$(id -u)" = 10001 ] && atelier serve --print-config | grep -q "^data_dir = \"/var/lib/atelier\"" &&
  atelier serve --print-config | grep -q "^dir = \"/usr/local/share/atelier/web\""'
if [ "$(basename "$builder")" = buildah ]; then
  ctr=$(buildah from "$tag")
  buildah run "$ctr" -- sh -c "$check" || { buildah rm "$ctr" >/dev/null; exit 1; }
  buildah rm "$ctr" >/dev/null
else
  "$builder" run --rm --entrypoint sh "$tag" -c "$check"
fi
if [ -n "${ATELIER_OCI_ARCHIVE:-}" ]; then
  "$builder" push "$tag" "oci-archive:$ATELIER_OCI_ARCHIVE:$tag"
fi
echo "built $tag"

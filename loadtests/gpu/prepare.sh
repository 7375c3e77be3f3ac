#!/usr/bin/env bash
# Builds what the GPU benchmark carries to the lent GPU machine, into .gpu/ (ignored by git):
# the stripped bench_engine binary and the diffusers wheel (pure Python; the machine has torch,
# transformers and huggingface_hub, and cannot download). Then, with the device tool:
#   run(command="bash loadtests/gpu/run.sh", carry=[".gpu"], timeout_s=600)
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
cargo build --release --locked --example bench_engine
mkdir -p .gpu/wheels
cp target/release/examples/bench_engine .gpu/bench_engine
strip .gpu/bench_engine
.venv/bin/pip download -q --no-deps -d .gpu/wheels diffusers==0.42.1 importlib_metadata zipp
du -sh .gpu

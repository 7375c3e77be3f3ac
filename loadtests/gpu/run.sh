#!/usr/bin/env bash
# Runs ON the lent GPU machine (prepared by loadtests/gpu/prepare.sh): our engine and diffusers,
# side by side on the same GPU, full-size SD 1.5 with random weights, fp16, 512x512, 30 Euler
# steps with CFG, batches 1 and 4; then diffusers with torch.compile. First, loading the weights
# onto the GPU with a memory map and with positioned reads. Each batch size runs in
# its own process so that its peak GPU memory (nvidia-smi memory.used, sampled every 100 ms,
# minus the idle reading) is its own. Results: $OUT/results.jsonl, logs beside it.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-bench}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
python3 -m pip install -q --no-deps --no-index --target /tmp/pylib .gpu/wheels/*.whl
export PYTHONPATH=/tmp/pylib
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }
idle=$(used)

# measure NAME CMD...: runs CMD, appends its JSON lines and its peak memory to results.jsonl.
measure() {
  local name=$1; shift
  "$@" > "$OUT/$name.jsonl" 2> "$OUT/$name.log" &
  local pid=$! peak=0 now
  while kill -0 "$pid" 2>/dev/null; do
    now=$(used); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
  done
  wait "$pid"; local rc=$?
  cat "$OUT/$name.jsonl" >> "$OUT/results.jsonl"
  echo "{\"run\": \"$name\", \"rc\": $rc, \"peak_used_mib\": $((peak - idle))}" | tee -a "$OUT/results.jsonl"
}

start=$(date +%s)
.gpu/bench_engine write-sd15 /tmp/sd15 > "$OUT/write.log" 2>&1
echo "model written in $(( $(date +%s) - start )) s"
# Loading onto the GPU in fp16, mapped against read (a few seconds each).
for access in map read; do
  measure "load-$access" .gpu/bench_engine load /tmp/sd15 --access "$access" --device cuda --kind f16
done
for batch in 1 4; do
  measure "atelier-b$batch" .gpu/bench_engine run /tmp/sd15 --device cuda --batches "$batch"
  measure "diffusers-b$batch" python3 loadtests/gpu/bench_diffusers.py \
    --vocab src/diffusion/bpe_simple_vocab_16e6.txt.gz --batches "$batch"
done
# What a LoRA costs a request on the GPU (a random rank-32 LoRA over every layer; fp16).
.gpu/bench_engine write-sd15-lora /tmp/sd15-lora.safetensors >> "$OUT/write.log" 2>&1
measure atelier-lora .gpu/bench_engine lora /tmp/sd15 /tmp/sd15-lora.safetensors --device cuda \
  --size 512 --steps 30 --repeat 3
measure diffusers-compile python3 loadtests/gpu/bench_diffusers.py \
  --vocab src/diffusion/bpe_simple_vocab_16e6.txt.gz --batches 1,4 --compile
cat "$OUT/results.jsonl"

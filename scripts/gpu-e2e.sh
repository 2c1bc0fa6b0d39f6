#!/usr/bin/env bash
# The end-to-end part of scripts/gpu-check.sh: a generated bf16 model compressed with each method
# on --device cpu and --device cuda (the containers must be the same bytes) and decompressed on
# both (the files must be the same bytes), every command timed. Needs Node and a build: `node`
# in PATH and dist/ + build/Release here, or gpu-bundle.tar.xz (scripts/gpu-bundle.sh) to unpack.
#
#   scripts/gpu-e2e.sh [report file]      (TENSORZIP_E2E_SIZE: model size, default 2GB;
#                                          TENSORZIP_E2E_METHODS: default lossless,rtn:4,ternary;
#                                          TENSORZIP_GPU_BENCH: the bench kernels suites run with
#                                          --device cuda afterwards, default all with a CUDA kernel)
set -uo pipefail
cd "$(dirname "$0")/.."
report="${1:-gpu-e2e.txt}"
size="${TENSORZIP_E2E_SIZE:-2GB}"
methods="${TENSORZIP_E2E_METHODS:-lossless,rtn:4,ternary}"
node="$(command -v node || true)"
if [[ ! -e dist/lib/cli.js && -f gpu-bundle.tar.xz ]]; then
  tar -xJf gpu-bundle.tar.xz || { echo "gpu-e2e: could not unpack gpu-bundle.tar.xz" | tee "$report"; exit 1; }
fi
[[ -x bin/node ]] && node="$PWD/bin/node"
if [[ -z "$node" || ! -e dist/lib/cli.js ]]; then
  echo "gpu-e2e: skipped: no Node or no build (run scripts/gpu-bundle.sh where npm ci ran, and carry gpu-bundle.tar.xz)" | tee "$report"
  exit 0
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/tensorzip-e2e-XXXXXX")"
trap 'rm -rf "$work"' EXIT
tz() { "$node" dist/lib/cli.js "$@"; }
exec > >(tee "$report") 2>&1
failed=0
# Runs a command with its output in $work/last.log; secs: how long it took.
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { echo "FAILED: $*"; tail -5 "$work/last.log"; failed=1; }
  t1=$(date +%s.%N)
  secs=$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')
}
rate() { awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f MB/s", b / s / 1e6}'; }
device() { grep -o '"device": *"[^"]*"' "$work/last.log" | head -1; }

echo "tensorzip end to end with --device cuda, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n), $(nproc) CPUs"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
tz info | sed -n '1,4p'
echo
timed tz generate "$work/model" --size "$size"
bytes=$(du -sb "$work/model" | cut -f1)
echo "generate $size: $secs s, $bytes bytes"
IFS=, read -ra list <<<"$methods"
for m in "${list[@]}"; do
  for d in cpu cuda; do
    timed tz compress "$work/model" -m "$m" --device "$d" -o "$work/$d.tzip" --json
    echo "compress $m --device $d: $secs s ($(rate)), $(stat -c %s "$work/$d.tzip" 2>/dev/null || echo no) container bytes; $(device)"
  done
  if cmp -s "$work/cpu.tzip" "$work/cuda.tzip"; then echo "  containers: the same bytes"; else echo "  containers: DIFFER"; failed=1; fi
  for d in cpu cuda; do
    timed tz decompress "$work/cpu.tzip" --device "$d" -o "$work/out-$d" --json
    echo "decompress $m --device $d: $secs s ($(rate)); $(device)"
  done
  if diff -rq "$work/out-cpu" "$work/out-cuda" >/dev/null 2>&1; then echo "  decompressed files: the same bytes"; else echo "  decompressed files: DIFFER"; failed=1; fi
  rm -rf "$work/cpu.tzip" "$work/cuda.tzip" "$work/out-cpu" "$work/out-cuda"
done
echo
# The GPU rows of the kernel suite, each a share of the GPU's copy bandwidth measured in the same
# run; the JSON beside the report is a baseline for later --compare runs on this machine.
echo "bench kernels --device cuda:"
timeout 300 "$node" dist/lib/cli.js bench kernels --device cuda --no-peers ${TENSORZIP_GPU_BENCH:+--only "$TENSORZIP_GPU_BENCH"} \
  --out "$(dirname "$report")/bench-kernels-cuda.json" || { echo "FAILED: bench kernels --device cuda"; failed=1; }
echo "exit status: $failed"
exit "$failed"

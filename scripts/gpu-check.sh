#!/usr/bin/env bash
# Builds the standalone CUDA harness (no Node needed) and runs it: every CUDA kernel against the
# CPU scalar reference on fresh random inputs, plus timings against device copy bandwidth.
# Results go to $OUT/gpu-check.txt when OUT is set, else ./gpu-check.txt.
# Then, when Node and a build are at hand (in PATH and dist/, or from gpu-bundle.tar.xz made by
# scripts/gpu-bundle.sh), the end-to-end part: a generated model compressed and decompressed with
# --device cuda and --device cpu, each timed, the containers and the decompressed files compared
# byte for byte ($OUT/gpu-e2e.txt; TENSORZIP_E2E_SIZE, default 2GB; TENSORZIP_E2E=0 skips it).
#
#   scripts/gpu-check.sh [extra harness args, e.g. --elements 67108864 --seed 1]
#
# Environment: TENSORZIP_CUDA_ARCHS (default: native GPU arch when cmake >= 3.24, else 90),
# TENSORZIP_CHECK_BIN (use this prebuilt harness instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${OUT:-.}"
mkdir -p "$out_dir"
report="$out_dir/gpu-check.txt"

bin="${TENSORZIP_CHECK_BIN:-}"
if [[ -z "$bin" ]]; then
  command -v nvcc >/dev/null || { echo "gpu-check: nvcc not found (set PATH or TENSORZIP_CHECK_BIN)" | tee "$report"; exit 1; }
  command -v cmake >/dev/null || { echo "gpu-check: cmake not found (set TENSORZIP_CHECK_BIN to a prebuilt harness)" | tee "$report"; exit 1; }
  archs="${TENSORZIP_CUDA_ARCHS:-}"
  if [[ -z "$archs" ]]; then
    if cmake --version | awk 'NR==1{split($3,v,"."); exit !(v[1]>3 || (v[1]==3 && v[2]>=24))}'; then archs=native; else archs=90; fi
  fi
  build=build-gpu-check
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$archs" >"$out_dir/gpu-check-build.log" 2>&1 \
    && cmake --build "$build" --target tensorzip_cuda_check -j "$(nproc)" >>"$out_dir/gpu-check-build.log" 2>&1 \
    || { echo "gpu-check: build failed, see $out_dir/gpu-check-build.log" | tee "$report"; tail -20 "$out_dir/gpu-check-build.log"; exit 1; }
  bin="$build/Release/tensorzip_cuda_check"
fi

{
  echo "tensorzip CUDA check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  echo
} >"$report"
set +e
"$bin" "$@" | tee -a "$report"
status=${PIPESTATUS[0]}
set -e
echo "exit status: $status" >>"$report"
echo "report: $report"

if [[ "${TENSORZIP_E2E:-1}" != 0 ]]; then
  set +e
  scripts/gpu-e2e.sh "$out_dir/gpu-e2e.txt"
  e2e=$?
  set -e
  ((status == 0)) && status=$e2e
fi
exit "$status"

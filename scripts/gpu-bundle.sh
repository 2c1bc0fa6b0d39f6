#!/usr/bin/env bash
# Packs what the end-to-end part of scripts/gpu-check.sh needs on a GPU machine that has no Node
# or npm: this Node binary, the built addon and CUDA library (build/Release), dist/ and
# node_modules/, into gpu-bundle.tar.xz (ignored by git; about 40 MB). Carry that file to the GPU
# machine with the working tree; gpu-check.sh unpacks it when it finds no dist/ there.
#
#   npm ci && scripts/gpu-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for p in dist/lib/cli.js build/Release/tensorzip.node build/Release/libtensorzip_cuda.so node_modules; do
  [[ -e "$p" ]] || { echo "gpu-bundle: $p is missing (run npm ci with nvcc on PATH first)" >&2; exit 1; }
done
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
cp "$(command -v node)" "$stage/bin/node"
tar -cf - -C "$stage" bin -C "$PWD" dist build/Release node_modules | xz -T0 -6 >gpu-bundle.tar.xz.tmp
mv gpu-bundle.tar.xz.tmp gpu-bundle.tar.xz
echo "gpu-bundle: $(du -h gpu-bundle.tar.xz | cut -f1) in gpu-bundle.tar.xz"

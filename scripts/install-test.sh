#!/usr/bin/env bash
# Install test (run by CI): `npm pack` (which makes the prebuilds), then install the tarball into
# an empty project with cmake, make and every compiler hidden from PATH, and run tensorzip there.
# It must load the prebuild, report a backend and compress a generated model.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --pack-destination "$work" | tail -1)
echo "install-test: packed $tarball ($(du -h "$work/$tarball" | cut -f1))"
tar -tzf "$work/$tarball" > "$work/contents"
grep -qx 'package/prebuilds/linux-x64/tensorzip.napi.glibc.node' "$work/contents" || { echo "install-test: the tarball has no prebuild"; exit 1; }

# A PATH with node, npm and a few basic tools, and nothing that could build C++.
bin="$work/bin"
mkdir -p "$bin"
for t in node npm npx sh bash env cat cp mv rm mkdir ls ln chmod tar gzip uname grep sed; do
  if p=$(command -v "$t"); then ln -s "$p" "$bin/$t"; fi
done
for t in cmake make ninja gcc g++ cc c++ clang clang++ nvcc; do
  if PATH="$bin" command -v "$t" >/dev/null; then echo "install-test: $t is still on the test PATH"; exit 1; fi
done

mkdir "$work/project"
cd "$work/project"
PATH="$bin" npm init -y >/dev/null
PATH="$bin" npm install --no-audit --no-fund "$work/$tarball"
test ! -e node_modules/tensorzip/build || { echo "install-test: a build/ directory appeared: the install built from source"; exit 1; }

PATH="$bin" node -e "
  const t = require('tensorzip');
  const info = t.backendInfo();
  if (!['avx2', 'scalar'].includes(info.cpu)) throw new Error('bad backendInfo ' + JSON.stringify(info));
  console.log('install-test: tensorzip', t.version, 'loaded; CPU path', info.cpu + ';', 'cuda' in info && 'gpus' in info.cuda ? 'CUDA: ' + info.cuda.gpus.map((g) => g.name).join(', ') : 'CUDA unavailable: ' + info.cuda.unavailable);
"
# The demo on the trained model the package ships (models/kjv-llama): KL and top-1 need its
# config, tokenizer and held-out text from the installed package.
PATH="$bin" npx tensorzip demo --methods lossless,rtn:4,ternary | tee "$work/demo.txt"
grep -q "models/kjv-llama: 1,967,872 parameters" "$work/demo.txt" || { echo "install-test: the demo did not run on the shipped model"; exit 1; }

# A missing or mismatched CUDA library next to the prebuild degrades to the CPU with the reason.
# The repo's stand-in driver (build/test-fixtures) gets the loader past the driver check.
cuda_reason() { PATH="$bin" node -e "console.log(require('tensorzip').backendInfo().cuda.unavailable)"; }
fake="$repo/build/test-fixtures/libtensorzip_fake_libcuda.so"
if [[ -f "$fake" ]]; then
  reason=$(TENSORZIP_LIBCUDA="$fake" TENSORZIP_CUDA_LIBRARY=/nonexistent/libtensorzip_cuda.so cuda_reason)
  [[ "$reason" == *"/nonexistent/libtensorzip_cuda.so not found"* ]] || { echo "install-test: missing library: $reason"; exit 1; }
  reason=$(TENSORZIP_LIBCUDA="$fake" TENSORZIP_CUDA_LIBRARY="$fake" cuda_reason)
  [[ "$reason" == *"is not a tensorzip CUDA library"* ]] || { echo "install-test: mismatched library: $reason"; exit 1; }
  echo "install-test: missing and mismatched CUDA libraries degrade to the CPU, with the reason"
fi

# Without the prebuild and without compilers, the install stops and names what is missing.
rm -rf node_modules/tensorzip/prebuilds
if out=$(PATH="$bin" npm rebuild tensorzip 2>&1); then echo "install-test: rebuild without prebuild or compiler succeeded?"; exit 1; fi
[[ "$out" == *"missing cmake"*"C++17 compiler"* ]] || { echo "install-test: unclear message: $out"; exit 1; }
echo "install-test: without a prebuild or tools, the install names what is missing"
# With the tools, the tarball's sources build the addon (CPU only, to keep CI short).
TENSORZIP_CUDA=OFF npm rebuild tensorzip >/dev/null 2>&1 || { echo "install-test: building from the packed sources failed"; exit 1; }
PATH="$bin" node -e "const t = require('tensorzip'); console.log('install-test: built from the packed sources; CPU path', t.backendInfo().cpu)"
echo "install-test: passed"

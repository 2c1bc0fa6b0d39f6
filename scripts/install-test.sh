#!/usr/bin/env bash
# Install test (run by CI): pack tensorzip and its platform package (scripts/pack.js), install both
# into an empty project with install scripts disabled and cmake, make and every compiler hidden
# from PATH, and run tensorzip there: the demo, the kernel benchmark against its own baseline, and
# the ways an install can lack the addon. Last, the source build from the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t tarballs < <(node scripts/pack.js "$work/packages" 2>"$work/pack.log") || { cat "$work/pack.log"; exit 1; }
main=$(printf '%s\n' "${tarballs[@]}" | grep '/tensorzip-[0-9]')
platform=$(printf '%s\n' "${tarballs[@]}" | grep '/tensorzip-linux-x64-gnu-')
echo "install-test: packed $(basename "$main") ($(du -h "$main" | cut -f1)) and $(basename "$platform") ($(du -h "$platform" | cut -f1))"
tar -tzf "$platform" > "$work/platform.txt"
tar -tzf "$main" > "$work/main.txt"
grep -qx 'package/tensorzip.node' "$work/platform.txt" || { echo "install-test: the platform package has no addon"; exit 1; }
if grep -q '\.node$' "$work/main.txt"; then echo "install-test: tensorzip's own tarball carries a binary"; exit 1; fi

# A PATH with node, npm and a few basic tools, and nothing that could build C++.
bin="$work/bin"
mkdir -p "$bin"
for t in node npm npx sh bash env cat cp mv rm mkdir ls ln chmod tar gzip uname grep sed tee; do
  if p=$(command -v "$t"); then ln -s "$p" "$bin/$t"; fi
done
for t in cmake make ninja gcc g++ cc c++ clang clang++ nvcc; do
  if PATH="$bin" command -v "$t" >/dev/null; then echo "install-test: $t is still on the test PATH"; exit 1; fi
done

mkdir "$work/project"
cd "$work/project"
PATH="$bin" npm init -y >/dev/null
# Both tarballs in one install: the platform package satisfies tensorzip's optional dependency,
# as the published one would from the registry.
PATH="$bin" npm install --ignore-scripts --no-audit --no-fund "$platform" "$main"
test ! -e node_modules/tensorzip/build || { echo "install-test: a build/ directory appeared"; exit 1; }
for peer in cmake-js node-addon-api bullmq ioredis; do
  test ! -e "node_modules/$peer" || { echo "install-test: the optional peer $peer was installed"; exit 1; }
done

PATH="$bin" node -e "
  const t = require('tensorzip');
  const info = t.backendInfo();
  if (!['avx2', 'scalar'].includes(info.cpu)) throw new Error('bad backendInfo ' + JSON.stringify(info));
  console.log('install-test: tensorzip', t.version, 'loaded from @tensorzip/linux-x64-gnu; CPU path', info.cpu + ';', 'cuda' in info && 'gpus' in info.cuda ? 'CUDA: ' + info.cuda.gpus.map((g) => g.name).join(', ') : 'CUDA unavailable: ' + info.cuda.unavailable);
"
# The demo on the trained model the package ships (models/kjv-llama): KL and top-1 need its
# config, tokenizer and held-out text from the installed package.
PATH="$bin" npx tensorzip demo --methods lossless,rtn:4,ternary | tee "$work/demo.txt"
grep -q "models/kjv-llama: 1,967,872 parameters" "$work/demo.txt" || { echo "install-test: the demo did not run on the shipped model"; exit 1; }

# The kernel benchmark runs from the installed package and compares against a baseline: its own
# run with every score moved 1000x in the run's favour (exit 0), then 1000x against it (exit 4:
# regressed). A plain rerun could fail by chance: rows on a shared machine move more than the
# tolerance between runs.
PATH="$bin" npx tensorzip bench kernels --only convert --no-peers --smoke --out "$work/base.json" >/dev/null
shifted() { # $1: the factor for 'higher' rows, $2: the output
  PATH="$bin" node -e "
    const fs = require('fs'), f = JSON.parse(fs.readFileSync('$work/base.json', 'utf8'));
    for (const r of f.rows) if (r.judge !== 'info' && Number.isFinite(r.score)) r.score *= r.judge === 'lower' ? 1 / $1 : $1;
    fs.writeFileSync('$2', JSON.stringify(f));"
}
shifted 1e-3 "$work/easy.json"
shifted 1e3 "$work/impossible.json"
for case in easy:0 impossible:4; do
  set +e
  PATH="$bin" npx tensorzip bench kernels --only convert --no-peers --smoke --compare "$work/${case%:*}.json" --out "$work/now.json" > "$work/compare.txt"
  rc=$?
  set -e
  [[ $rc == "${case#*:}" ]] || { cat "$work/compare.txt"; echo "install-test: bench kernels against the ${case%:*} baseline exited $rc, not ${case#*:}"; exit 1; }
done
echo "install-test: bench kernels --compare works from the installed package (exit 0, and 4 on a regression)"

# A missing or mismatched CUDA library next to the addon degrades to the CPU with the reason.
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

# Without the platform package (as an install with --omit=optional leaves it, here where it is a
# direct dependency too): one error in words, exit 1.
rm -rf node_modules/@tensorzip
if out=$(PATH="$bin" npx tensorzip info 2>&1); then echo "install-test: info ran without an addon?"; exit 1; fi
[[ "$out" == "tensorzip: the package @tensorzip/linux-x64-gnu"*"is not installed"*"npx tensorzip build." ]] || { echo "install-test: unclear message: $out"; exit 1; }
# Without tools, the source build names everything that is missing.
if out=$(PATH="$bin" npx tensorzip build 2>&1); then echo "install-test: build without tools succeeded?"; exit 1; fi
[[ "$out" == *"missing cmake"*"C++17 compiler"*"cmake-js and node-addon-api"* ]] || { echo "install-test: unclear message: $out"; exit 1; }
echo "install-test: without the platform package or build tools, tensorzip says what is missing"
# With the tools, the packed sources build the addon (CPU only, to keep CI short) and it loads.
npm install --no-save --no-audit --no-fund cmake-js@^8 node-addon-api@^8 >/dev/null
npx tensorzip build --no-cuda 2>"$work/build.log" || { tail -20 "$work/build.log"; echo "install-test: building from the packed sources failed"; exit 1; }
PATH="$bin" node -e "const t = require('tensorzip'); console.log('install-test: built from the packed sources; CPU path', t.backendInfo().cpu)"
echo "install-test: passed"

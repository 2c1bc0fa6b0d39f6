#!/usr/bin/env bash
# Installs node-llama-cpp (prebuilt llama.cpp binaries from the npm registry, no compiler) into
# .ci/llama-cpp for test/gguf-llama-cpp.test.ts, which loads tensorzip's GGUF exports with it.
# Kept out of package.json: as a dependency its optional GPU builds (CUDA, Vulkan) would come with
# every install of the project. --ignore-scripts: its postinstall would try to build llama.cpp
# when no binary matches; here exactly the CPU build for this platform is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.22.1
case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *) echo "llama-cpp.sh: no prebuilt llama.cpp for $(uname -m)"; exit 1 ;;
esac
dir=.ci/llama-cpp
if [[ -f $dir/node_modules/node-llama-cpp/package.json ]] && grep -q "\"version\": \"$VERSION\"" "$dir/node_modules/node-llama-cpp/package.json"; then
  echo "llama-cpp.sh: node-llama-cpp $VERSION already in $dir"
  exit 0
fi
mkdir -p "$dir"
echo '{ "name": "tensorzip-llama-cpp-check", "private": true }' > "$dir/package.json"
npm install --prefix "$dir" --ignore-scripts --omit=optional --no-audit --no-fund --no-save \
  "node-llama-cpp@$VERSION" "@node-llama-cpp/$platform@$VERSION"
echo "llama-cpp.sh: node-llama-cpp $VERSION ($platform) in $dir"

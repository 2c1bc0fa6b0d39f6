#!/usr/bin/env node
// `npm run build:prebuilds` (run by `npm pack` through prepack): builds the addon, and the CUDA
// library when nvcc is present, with cmake-js, and places them where node-gyp-build finds them:
//   prebuilds/linux-x64/tensorzip.napi.glibc.node
//   prebuilds/linux-x64/libtensorzip_cuda.so   (the addon loads it from its own directory)
//   prebuilds/linux-x64/tensorzip.json         (package version, newest glibc symbol version needed)
// prebuildify has no cmake-js backend, so the files are copied here rather than through it.
// The CPU code is built for baseline x86-64; only the *_avx2.cc files use AVX2, chosen at run time.
// CUDA: CMake's default architectures (80, 86, 89, 90 + PTX), static runtime (CMakeLists.txt).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const fail = (msg) => {
  console.error(`prebuild: ${msg}`);
  process.exit(1);
};
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`prebuilds are made for linux-x64 only, not ${process.platform}-${process.arch}`);

const build = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) fail('the native build failed (see above)');

/** Dotted versions compared: < 0, 0 or > 0 (as lib/native.ts compareVersions). */
function compare(a, b) {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  return 0;
}

/** The newest GLIBC_x.y[.z] symbol version a shared object needs ('0' if none). */
function glibcNeeded(file) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) fail(`objdump -T ${file} failed (binutils is needed to record the glibc version): ${r.stderr || r.error}`);
  return [...r.stdout.matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]).reduce((a, b) => (compare(a, b) >= 0 ? a : b), '0');
}

const out = path.join(root, 'prebuilds', 'linux-x64');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const release = path.join(root, 'build', 'Release');
const placed = [['tensorzip.node', 'tensorzip.napi.glibc.node'], ['libtensorzip_cuda.so', 'libtensorzip_cuda.so']].filter(([from]) => fs.existsSync(path.join(release, from)));
let glibc = '0';
for (const [from, to] of placed) {
  fs.copyFileSync(path.join(release, from), path.join(out, to));
  const needed = glibcNeeded(path.join(out, to));
  if (compare(needed, glibc) > 0) glibc = needed;
}
if (!placed.length || placed[0][0] !== 'tensorzip.node') fail('build/Release/tensorzip.node was not built');
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const cuda = placed.length > 1;
fs.writeFileSync(path.join(out, 'tensorzip.json'), JSON.stringify({ version, glibc, cuda, builtWith: `node ${process.version}` }, null, 2) + '\n');
console.log(`prebuild: prebuilds/linux-x64 for tensorzip ${version}: ${placed.map(([, to]) => to).join(', ')}; needs glibc >= ${glibc}` +
  (cuda ? '' : ' (no CUDA library: nvcc was not found, so the prebuild is CPU-only)'));

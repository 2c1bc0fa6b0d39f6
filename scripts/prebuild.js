#!/usr/bin/env node
// `npm run build:prebuilds` (and the platform package's prepack): builds the addon, and the CUDA
// library when nvcc is present, with cmake-js, and fills the platform package's folder, which
// tensorzip loads them from (lib/addon-location.ts):
//   npm/linux-x64-gnu/tensorzip.node
//   npm/linux-x64-gnu/libtensorzip_cuda.so   (the addon loads it from its own directory)
//   npm/linux-x64-gnu/tensorzip.json         (package version, newest glibc symbol version needed)
//   npm/linux-x64-gnu/LICENSE
// The platform package's version must equal tensorzip's, which names it as an optional dependency.
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

const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = main.version;
const out = path.join(root, 'npm', 'linux-x64-gnu');
const platformPackage = JSON.parse(fs.readFileSync(path.join(out, 'package.json'), 'utf8'));
const wanted = main.optionalDependencies?.[platformPackage.name];
if (platformPackage.version !== version || wanted !== version)
  fail(`${platformPackage.name} is ${platformPackage.version} and tensorzip ${version} asks for ${wanted}: all three must be equal`);

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

for (const f of ['tensorzip.node', 'libtensorzip_cuda.so', 'tensorzip.json']) fs.rmSync(path.join(out, f), { force: true });
fs.copyFileSync(path.join(root, 'LICENSE'), path.join(out, 'LICENSE'));
const release = path.join(root, 'build', 'Release');
if (!fs.existsSync(path.join(release, 'tensorzip.node'))) fail('build/Release/tensorzip.node was not built');
const placed = ['tensorzip.node', 'libtensorzip_cuda.so'].filter((f) => fs.existsSync(path.join(release, f)));
let glibc = '0';
for (const f of placed) {
  fs.copyFileSync(path.join(release, f), path.join(out, f));
  const needed = glibcNeeded(path.join(out, f));
  if (compare(needed, glibc) > 0) glibc = needed;
}
const cuda = placed.length > 1;
fs.writeFileSync(path.join(out, 'tensorzip.json'), JSON.stringify({ version, glibc, cuda, builtWith: `node ${process.version}` }, null, 2) + '\n');
console.log(`prebuild: npm/linux-x64-gnu (${platformPackage.name}) for tensorzip ${version}: ${placed.join(', ')}; needs glibc >= ${glibc}` +
  (cuda ? '' : ' (no CUDA library: nvcc was not found, so the prebuild is CPU-only)'));

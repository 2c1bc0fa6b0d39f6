#!/usr/bin/env node
// `npm install` hook: keep a native addon that already loads (local build or prebuild) and was
// built for this version of the package; otherwise build from source with cmake-js, or explain
// exactly what is missing.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

const version = require(path.join(root, 'package.json')).version;

function loads() {
  try {
    return require('node-gyp-build')(root).version === version;
  } catch {
    return false;
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

if (loads()) process.exit(0);

const missing = [];
if (!has('cmake')) missing.push('cmake (>= 3.18)');
if (!has('c++') && !has('g++') && !has('clang++')) missing.push('a C++17 compiler (g++ or clang++)');
if (missing.length) {
  console.error(
    `tensorzip: no prebuilt binary loads on this platform (${process.platform}-${process.arch}) and it cannot be ` +
      `built from source: missing ${missing.join(' and ')}. Install them (Debian/Ubuntu: apt-get install cmake g++ liblzma-dev) ` +
      'and run `npm rebuild tensorzip`.',
  );
  process.exit(1);
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('tensorzip: building the native addon from source failed (see the compiler output above).');
  process.exit(r.status || 1);
}
if (!loads()) {
  console.error(`tensorzip: the native addon was built but does not load, or does not report version ${version}.`);
  process.exit(1);
}

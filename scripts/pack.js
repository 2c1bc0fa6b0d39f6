#!/usr/bin/env node
// `npm run pack:all [-- <dir>]`: the tarballs a release publishes, into <dir> (default: packages/):
// tensorzip itself (its prepack compiles the TypeScript) and each platform package of npm/ (its
// prepack builds the binaries, scripts/prebuild.js). Prints each tarball's path, one per line.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dest = path.resolve(process.argv[2] || path.join(root, 'packages'));
fs.mkdirSync(dest, { recursive: true });
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
const platformDirs = fs.readdirSync(path.join(root, 'npm')).map((d) => path.join(root, 'npm', d)).filter((d) => fs.existsSync(path.join(d, 'package.json')));
for (const dir of [...platformDirs, root]) {
  // npm pack prints the tarball's name last, after what the prepack scripts print.
  const r = spawnSync(npm[0], [...npm.slice(1), 'pack', '--pack-destination', dest], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    console.error(`pack: npm pack in ${path.relative(root, dir) || '.'} failed`);
    process.exit(1);
  }
  process.stderr.write(r.stdout);
  console.log(path.join(dest, r.stdout.trim().split('\n').pop()));
}

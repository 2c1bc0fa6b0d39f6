// The layers of lib/ (docs/CONTRIBUTING.md, "The tree"): a file may import its own layer and the
// layers below it, never one above. Read from the sources, so a new upward import fails here.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { root } from './helpers';

/** Lowest first. A file belongs to the first entry whose pattern matches its path in lib/. */
const LAYERS: Array<[string, RegExp]> = [
  ['core', /^(core\/|native\.ts$|addon-location\.ts$|backend\.ts$|jobs\.ts$|version\.ts$|device\.ts$|convert\.ts$)/],
  ['io', /^io\//],
  ['methods', /^(methods|interop)\//],
  ['container', /^container\//],
  ['pipeline', /^(pipeline|model|eval)\//],
  ['parts', /^parts\//],
  ['budget', /^budget\//],
  ['queue', /^queue\//],
  ['tools', /^tools\//],
  ['cli', /^(cli\.ts$|cli\/|index\.ts$)/],
];

function layerOf(rel: string): number {
  const i = LAYERS.findIndex(([, re]) => re.test(rel));
  if (i < 0) throw new Error(`lib/${rel} is in no layer: add it to LAYERS here and to docs/CONTRIBUTING.md`);
  return i;
}

function sources(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(dir, path.join(rel, e.name)) : e.name.endsWith('.ts') ? [path.join(rel, e.name)] : [],
  );
}

describe('layers of lib/', () => {
  const lib = path.join(root, 'lib');
  const files = sources(lib);

  it('every file is in a layer', () => {
    for (const f of files) layerOf(f);
  });

  it('no file imports a layer above its own', () => {
    const upward: string[] = [];
    for (const f of files) {
      const text = readFileSync(path.join(lib, f), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = path.relative(lib, path.resolve(lib, path.dirname(f), m[1]));
        const rel = files.includes(`${target}.ts`) ? `${target}.ts` : files.includes(path.join(target, 'index.ts')) ? path.join(target, 'index.ts') : target;
        if (layerOf(rel) > layerOf(f)) upward.push(`lib/${f} (${LAYERS[layerOf(f)][0]}) imports lib/${rel} (${LAYERS[layerOf(rel)][0]})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('the check sees an upward import', () => {
    // The test above must be able to fail: a pipeline file importing the CLI is caught.
    assert.ok(layerOf('cli/report.ts') > layerOf('pipeline/compress.ts'));
    assert.throws(() => layerOf('stray.ts'), /in no layer/);
  });

  it('the CLI loads the queue client, the dev tools and the bench harness only for their commands', () => {
    // What `tensorzip --help` loads: a module of these would slow every command's start.
    const script = `const Module = require('node:module'); const load = Module._load; const seen = new Set();
      Module._load = function (request, ...rest) { const m = load.call(this, request, ...rest); seen.add(request); return m; };
      process.argv = ['node', 'tensorzip', '--help']; process.on('exit', () => console.log('loaded ' + JSON.stringify([...seen])));
      require(${JSON.stringify(path.join(root, 'dist/lib/cli.js'))});`;
    const seen: string[] = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).split('\nloaded ')[1]);
    assert.ok(seen.some((m) => m.endsWith('/native')), `the check sees the modules loaded: ${seen.join(' ')}`);
    const heavy = seen.filter((m) => /^(ioredis|bullmq|tinybench)$|\/tools\/(?!presets$)|\/queue\/(connection|coordinator|worker)$/.test(m));
    assert.deepEqual(heavy, []);
  });
});

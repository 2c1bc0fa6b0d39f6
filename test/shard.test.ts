// compress --shard i/n + merge: the merged container equals a single compress byte for byte, and
// merge refuses parts of other inputs, other options, and missing or duplicate shards.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { compressShard } from '../lib/parts/part';
import { generateCheckpoint } from '../lib/tools/generate';
import { merge } from '../lib/parts/merge';
import { assignShards, parseShard } from '../lib/parts/shard';
import { cliPath, root } from './helpers';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });

describe('shards and merge', function () {
  this.timeout(60_000);
  let tmp: string, model: string, other: string, single: Buffer;
  const out = (name: string) => path.join(tmp, name);
  const parts = async (input: string, n: number, method = 'rtn:4', prefix = 'p') => {
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = out(`${prefix}${i}of${n}.part`);
      const r = await compressShard(input, f, { method, shard: { index: i, count: n }, threads: 2 });
      assert.equal(r.shard?.index, i);
      files.push(f);
    }
    return files;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-shard-'));
    model = out('m');
    other = out('other');
    await generateCheckpoint(model, { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512, shards: 2 });
    await generateCheckpoint(other, { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512, shards: 2, seed: 2 });
    await compress(model, out('single.tzip'), { method: 'rtn:4', threads: 2 });
    single = await readFile(out('single.tzip'));
  });
  after(async () => rm(tmp, { recursive: true, force: true }));

  it('assigns every tensor to one shard, deterministically and balanced by size', () => {
    const sizes = [5, 1, 9, 9, 2, 7, 3, 3, 0, 4];
    const a = assignShards(sizes, 3);
    assert.deepEqual(a, assignShards(sizes, 3));
    assert.ok(a.every((s) => s >= 0 && s < 3));
    const load = [0, 0, 0];
    a.forEach((s, i) => (load[s] += sizes[i]));
    assert.ok(Math.max(...load) - Math.min(...load) <= Math.max(...sizes), `${load}`);
    assert.deepEqual(assignShards(sizes, 1), sizes.map(() => 0));
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    for (const bad of ['3/3', '1', '-1/2', '0/0', 'a/b']) assert.throws(() => parseShard(bad), /--shard must be i\/n/);
  });

  for (const n of [1, 2, 3])
    it(`n = ${n}: the merged container equals a single compress byte for byte (parts in any order)`, async () => {
      const files = await parts(model, n);
      const r = await merge([...files].reverse(), out(`merged${n}.tzip`), { threads: 2 });
      assert.equal(r.tensors.length, 21);
      assert.ok((await readFile(out(`merged${n}.tzip`))).equals(single));
    });

  it('from the command line, with refusals for mixed inputs, mixed options, missing and duplicate parts', async () => {
    for (let i = 0; i < 2; i++) {
      const r = cli('compress', model, '-o', out(`c${i}.part`), '-m', 'rtn:4', '--shard', `${i}/2`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote part ${i}/2`));
    }
    const ok = cli('merge', out('c0.part'), out('c1.part'), '-o', out('cli.tzip'), '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok((await readFile(out('cli.tzip'))).equals(single));

    const [o0] = await parts(other, 2, 'rtn:4', 'o');
    const [, r1] = await parts(model, 2, 'rtn:8', 'r');
    const cases: Array<[string[], RegExp]> = [
      [[out('c0.part'), o0.replace('o0of2', 'o1of2')], /parts of different inputs/],
      [[out('c0.part'), r1], /were made with different options/],
      [[out('c0.part')], /missing part for shard 1 of 2/],
      [[out('c0.part'), out('c0.part')], /are both shard 0\/2/],
      [[out('c0.part'), out('single.tzip')], /not a tensorzip part file/],
    ];
    for (const [inputs, message] of cases) {
      const r = cli('merge', ...inputs, '-o', out('bad.tzip'));
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    const bad = cli('compress', model, '-o', out('x.part'), '--shard', '2/2');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--shard must be i\/n/);
    // A truncated part is refused as incomplete; an input changed since the parts is refused.
    const cut = await readFile(out('c1.part'));
    await writeFile(out('cut.part'), cut.subarray(0, cut.length - 100));
    let r = cli('merge', out('c0.part'), out('cut.part'), '-o', out('bad.tzip'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds \d+ of shard 1's \d+ tensors/);
    await writeFile(path.join(model, 'config.json'), (await readFile(path.join(model, 'config.json'), 'utf8')) + ' ');
    r = cli('merge', out('c0.part'), out('c1.part'), '-o', out('bad.tzip'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not what the parts were made from/);
    assert.ok(!(await readdir(tmp)).some((f) => f.startsWith('bad') || f.includes('.tmp')), 'no output or temp file left');
  });
});

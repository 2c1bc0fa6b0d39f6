// Weights a lossy method cannot represent (rtn's f16 scale overflowing at max|w|/qmax >= 65520,
// ternary's f16 group scales and vptq's f16 codebook beyond 65504, seedlm's f32 error sums beyond
// 2^62): at each method's limit, just below encodes lossy with a finite error, above stores the
// tensor lossless with a note naming it and its largest value, and --nonfinite error fails
// naming it. Any other encode failure names its tensor too.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { rtn } from '../lib/methods/rtn';
import { vptq } from '../lib/methods/vptq';
import { Rng } from '../lib/core/random';
import { cliPath } from './helpers';

const NAME = 'model.layers.0.mlp.up_proj.weight';
const f32 = Math.fround;
/** The next f32 above / below a positive f32. */
const nextUp = (x: number) => new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([x]).buffer)[0] + 1]).buffer)[0];
const nextDown = (x: number) => new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([x]).buffer)[0] - 1]).buffer)[0];

/** rows x cols F32 weights: small gaussian ones, with `peak` as one weight ('one') or as the
 * magnitude of every weight ('all'), so that every scale group sits at the limit. */
function weights(rows: number, cols: number, peak: number, where: 'one' | 'all'): Float32Array {
  const r = new Rng(7);
  const w = Float32Array.from({ length: rows * cols }, () => r.normal() * 0.02);
  if (where === 'one') w[5] = peak;
  else for (let i = 0; i < w.length; i++) w[i] = w[i] < 0 ? -peak : peak;
  return w;
}

interface Edge {
  spec: string;
  /** The largest |w| encoded lossy, and a value just above it. */
  below: number;
  above: number[];
  where: 'one' | 'all';
  shape: [number, number];
}

const EDGES: Edge[] = [
  // 65520·7 = 458640 is the first max|w| whose scale max|w|/7 rounds to f16 Inf.
  { spec: 'rtn:4:g32', below: nextDown(458640), above: [458640, 3.4e38], where: 'all', shape: [16, 64] },
  { spec: 'rtn:8:g128', below: nextDown(65520 * 127), above: [65520 * 127], where: 'all', shape: [16, 128] },
  { spec: 'rtn:2:g32', below: nextDown(65520), above: [65520], where: 'one', shape: [16, 64] },
  { spec: 'ternary:g256:p3', below: 65504, above: [nextUp(65504), 1e6], where: 'all', shape: [16, 256] },
  { spec: 'ternary:g256:p3:opt', below: 65504, above: [nextUp(65504)], where: 'one', shape: [16, 256] },
  { spec: 'vptq:v2:k256:i10', below: 65504, above: [nextUp(65504), 1e30], where: 'one', shape: [32, 256] },
  { spec: 'vptq:v2:k256:norm:i10', below: 65504, above: [1e6], where: 'all', shape: [32, 256] },
  { spec: 'seedlm:4', below: 2 ** 62, above: [nextUp(2 ** 62), 1e20], where: 'all', shape: [4, 32] },
  { spec: 'seedlm:3', below: 2 ** 62, above: [6e19], where: 'all', shape: [4, 48] },
];

describe('weights beyond what a method can represent', function () {
  this.timeout(120000);
  let dir: string;
  const out = (name: string) => path.join(dir, name);
  let n = 0;
  async function model(w: Float32Array, shape: number[]): Promise<string> {
    const file = out(`m${n++}.safetensors`);
    const writer = await SafetensorsWriter.create(file, [{ name: NAME, dtype: 'F32', shape }]);
    await writer.write(new Uint8Array(w.buffer));
    await writer.finish();
    return file;
  }
  // A rule for every tensor: the method applies to these small tensors too.
  const run = (file: string, spec: string, nonFinite?: 'error') => compress(file, out(`${path.basename(file)}.tzip`), { method: spec, policy: { '*': spec }, device: 'cpu', nonFinite, force: true });

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-limits-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const e of EDGES) {
    it(`${e.spec}: |w| = ${e.below} encodes lossy; ${e.above.join(', ')} fall back to lossless, or fail with --nonfinite error`, async () => {
      const [rows, cols] = e.shape;
      const below = await run(await model(weights(rows, cols, e.below, e.where), e.shape), e.spec);
      const t = below.tensors[0];
      assert.equal(t.method, e.spec);
      assert.equal(t.note, undefined);
      assert.ok(Number.isFinite(t.metrics!.relativeError) && Number.isFinite(t.metrics!.maxAbsError), JSON.stringify(t.metrics));
      assert.ok(t.metrics!.relativeError < 0.5, `${t.metrics!.relativeError}`);
      for (const v of e.above) {
        const file = await model(weights(rows, cols, v, e.where), e.shape);
        const r = await run(file, e.spec);
        assert.equal(r.tensors[0].method, 'lossless');
        const largest = String(+f32(v).toPrecision(8));
        assert.match(r.tensors[0].note!, new RegExp(`^largest \\|w\\| ${largest.replace(/[.+]/g, '\\$&')} is beyond ${e.spec} \\(.+\\): stored lossless instead of ${e.spec}$`));
        await assert.rejects(run(file, e.spec, 'error'), (err: Error) => {
          assert.match(err.message, new RegExp(`^${NAME.replace(/\./g, '\\.')}: largest \\|w\\| ${largest.replace(/[.+]/g, '\\$&')} is beyond ${e.spec} .*; ${e.spec} cannot encode it \\(use --nonfinite lossless`));
          return true;
        });
      }
    });
  }

  it('ternary:tensor keeps an f32 scale: weights up to FLT_MAX encode lossy', async () => {
    const r = await run(await model(weights(16, 256, 3.4028234663852886e38, 'all'), [16, 256]), 'ternary:tensor');
    assert.equal(r.tensors[0].method, 'ternary:tensor:p3');
    assert.ok(Number.isFinite(r.tensors[0].metrics!.relativeError));
  });

  it('from the command line: a note by default, one line naming the tensor with --nonfinite error, no output', async () => {
    const file = await model(weights(16, 64, 5e5, 'one'), [16, 64]);
    const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, 'compress', file, '-m', 'rtn:4', ...args], { encoding: 'utf8' });
    const policy = out('all-rtn4.json'); // the tensor is under the default policy's tiny-tensor size
    await writeFile(policy, JSON.stringify({ '*': 'rtn:4' }));
    const ok = cli('--policy', policy, '-o', out('cli.tzip'));
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /model\.layers\.0\.mlp\.up_proj\.weight: largest \|w\| 500000 is beyond rtn:4:g32 \(its f16 group scale, max\|w\|\/7, overflows from \|w\| = 458640 on\): stored lossless instead of rtn:4:g32/);
    const bad = cli('--policy', policy, '-o', out('cli-err.tzip'), '--nonfinite', 'error');
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /^tensorzip: model\.layers\.0\.mlp\.up_proj\.weight: largest \|w\| 500000 is beyond rtn:4:g32/);
    assert.ok(!(await readdir(dir)).some((f) => f.includes('cli-err')), 'no output or temp file left');
  });

  it('any other failure while encoding a tensor names it', async () => {
    const file = await model(weights(16, 64, 1, 'one'), [16, 64]);
    const encode = rtn.encode;
    rtn.encode = async () => {
      throw new Error('rtn: the kernel failed');
    };
    try {
      await assert.rejects(run(file, 'rtn:4'), { message: `${NAME}: rtn: the kernel failed` });
    } finally {
      rtn.encode = encode;
    }
    const prepare = vptq.prepare;
    vptq.prepare = async () => {
      throw new Error('vptq: k-means failed');
    };
    try {
      await assert.rejects(run(await model(weights(32, 256, 1, 'one'), [32, 256]), 'vptq:v2:k256'), { message: `${NAME}: vptq: k-means failed` });
    } finally {
      vptq.prepare = prepare;
    }
    await assert.rejects(compress(file, out('aborted.tzip'), { method: 'rtn:4', policy: { '*': 'rtn:4' }, signal: AbortSignal.abort() }), { name: 'AbortError', message: /^The operation was aborted/ });
  });
});

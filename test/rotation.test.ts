// :rot (lib/methods/rotation.ts, binding/cpu/quant/hadamard.h): the rotation against an explicit
// Walsh–Hadamard product in double precision, its inverse, its thread-count independence, the
// spec forms, and whole containers: decode gives back exactly what the encoder measured, on any
// thread count, and rotation lowers the error of low-bit rtn on heavy-tailed weights.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../lib/native';
import { runJob } from '../lib/jobs';
import { parseSpec, validateSpec } from '../lib/methods/registry';
import { rotationBlock } from '../lib/methods/rotation';
import { compress } from '../lib/pipeline/compress';
import { verify } from '../lib/pipeline/verify';
import { generateCheckpoint } from '../lib/tools/generate';
import { gaussian } from './helpers';

/** SplitMix64 of (seed, j) as hadamard.h states it: the sign of column j. */
function signOf(seed: number, j: number): number {
  const M = (1n << 64n) - 1n;
  let z = (BigInt(seed) + 0x9e3779b97f4a7c15n * BigInt(j + 1)) & M;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
  z ^= z >> 31n;
  return z >> 63n ? -1 : 1;
}

/** H[i][j] = (−1)^popcount(i & j): Sylvester's order. */
const hadamard = (i: number, j: number) => {
  let v = i & j, s = 1;
  while (v) (s = -s), (v &= v - 1);
  return s;
};

/** y = H·(m ⊙ x)/√B per block of each row, in double. */
function reference(x: Float32Array, cols: number, block: number, seed: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++)
    for (let b = 0; b < cols; b += block)
      for (let i = 0; i < block; i++) {
        let s = 0;
        for (let j = 0; j < block; j++) s += hadamard(i, j) * signOf(seed, b + j) * x[r * cols + b + j];
        y[r * cols + b + i] = s / Math.sqrt(block);
      }
  return y;
}

const rotate = (x: Float32Array, period: number, block: number, seed: number, inverse: boolean, threads = 1) =>
  runJob((progress) => native.hadamardRotate({ x, period, block, seed, inverse, threads }, progress));

describe('rotation (:rot)', function () {
  this.timeout(120000);

  it('is H·(m ⊙ x)/√B per block, with seeded signs, to f32 rounding; the inverse gives x back', async () => {
    for (const [cols, block, seed] of [[64, 8, 1], [96, 32, 7], [256, 256, 0], [48, 16, 4294967295]]) {
      const x = gaussian(3 * cols, cols + block, 1);
      const y = x.slice();
      await rotate(y, cols, block, seed, false);
      const want = reference(x, cols, block, seed);
      const norm = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - want[i]) <= 1e-5 * norm * Math.sqrt(block), `cols ${cols} block ${block}: ${i}: ${y[i]} vs ${want[i]}`);
      await rotate(y, cols, block, seed, true);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - x[i]) <= 1e-5 * norm, `inverse ${i}: ${y[i]} vs ${x[i]}`);
    }
  });

  it('gives the same bits on any thread count', async () => {
    const x = gaussian(4096 * 64, 3, 0.02);
    const a = x.slice(), b = x.slice();
    await rotate(a, 4096, 4096, 5, false, 1);
    await rotate(b, 4096, 4096, 5, false, 3);
    assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer));
  });

  it('refuses lengths and blocks it cannot rotate, in words', async () => {
    const x = new Float32Array(96);
    assert.throws(() => native.hadamardRotate({ x, period: 96, block: 24, seed: 1 }), /block must be a power of two from 2 to 4096/);
    assert.throws(() => native.hadamardRotate({ x, period: 96, block: 8192, seed: 1 }), /block/);
    assert.throws(() => native.hadamardRotate({ x, period: 40, block: 16, seed: 1 }), /period \(40\) must be a multiple of block \(16\)/);
    assert.throws(() => native.hadamardRotate({ x, period: 64, block: 16, seed: 1 }), /length \(96\) must be a multiple of period \(64\)/);
    assert.throws(() => native.hadamardRotate({ x, period: 96, block: 32, seed: -1 }), /seed/);
    // An empty array is a multiple of any period, even the largest: nothing is made for it.
    await native.hadamardRotate({ x: new Float32Array(0), period: 2 ** 40, block: 16, seed: 1 }).promise;
  });

  it('specs: :rot and :rot<seed> after any lossy method, canonical, refused elsewhere', () => {
    assert.equal(validateSpec('rtn:4:rot'), 'rtn:4:g32:rot');
    assert.equal(validateSpec('rtn:4:g64:rot1'), 'rtn:4:g64:rot');
    assert.equal(validateSpec('ternary:rot7'), 'ternary:g256:p3:rot7');
    assert.equal(validateSpec('vptq:2:rot0'), 'vptq:2:rot0');
    assert.equal(validateSpec('seedlm:3:rot'), 'seedlm:3:rot');
    assert.throws(() => validateSpec('lossless:rot'), /:rot applies to lossy methods/);
    assert.throws(() => validateSpec('rtn:4:rot99999999999'), /seed must be an integer from 0 to 4294967295/);
    assert.throws(() => validateSpec('rtn:4:rotx'), /group must be g<N>/);
    assert.throws(() => validateSpec('rtn:rot'), /rtn needs bits/);
    const { method, params } = parseSpec('ternary:tensor:rot');
    assert.match(method.unsupported(params, 'BF16', [256, 256])!, /ternary:tensor's scale/);
    assert.match(parseSpec('rtn:4:rot').method.unsupported(parseSpec('rtn:4:rot').params, 'BF16', [64, 100])!, /power-of-two factor of at least 8/);
    assert.deepEqual([100, 96, 4096, 8192 * 3, 7].map(rotationBlock), [4, 32, 4096, 4096, 1]);
  });

  describe('containers', () => {
    let dir: string;
    let model: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-rot-'));
      model = path.join(dir, 'model');
      await generateCheckpoint(model, { hidden: 256, intermediate: 704, vocab: 512, layers: 1 });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    // seedlm's search is slow on a CPU: it gets one small matrix, the rest rtn:4:rot.
    for (const spec of ['rtn:3:rot', 'ternary:rot5', 'vptq:2:rot', 'seedlm:4:fast:rot'])
      it(`${spec}: verify measures on the decoded container exactly the error the encoder recorded`, async () => {
        const file = path.join(dir, `${spec}.tzip`);
        const options = spec.startsWith('seedlm') ? { method: 'rtn:4:rot', policy: { '*.k_proj.weight': spec } } : { method: spec };
        const r = await compress(model, file, { ...options, threads: 1 });
        const tensor = r.tensors.find((t) => t.name.endsWith(spec.startsWith('seedlm') ? 'k_proj.weight' : 'mlp.down_proj.weight'))!;
        assert.match(tensor.method, new RegExp(`^${spec.split(':')[0]}:.*:rot\\d*$`));
        const v = await verify(file, model, { threads: 2 });
        assert.ok(v.ok, v.problems.join('; '));
        for (const t of r.tensors.filter((t) => t.metrics))
          assert.deepEqual(v.tensors.find((x) => x.name === t.name)!.metrics, t.metrics, t.name);
      });

    it('is deterministic across thread counts, and lowers rtn:3 error on heavy-tailed weights', async () => {
      const a = await compress(model, path.join(dir, 'r1.tzip'), { method: 'rtn:3:rot', threads: 1 });
      await compress(model, path.join(dir, 'r2.tzip'), { method: 'rtn:3:rot', threads: 2 });
      assert.ok((await readFile(path.join(dir, 'r1.tzip'))).equals(await readFile(path.join(dir, 'r2.tzip'))));
      const plain = await compress(model, path.join(dir, 'p.tzip'), { method: 'rtn:3' });
      for (const t of a.tensors.filter((t) => t.metrics && t.method.endsWith(':rot'))) {
        const p = plain.tensors.find((x) => x.name === t.name)!;
        assert.ok(t.metrics!.relativeError < p.metrics!.relativeError, `${t.name}: ${t.metrics!.relativeError} vs ${p.metrics!.relativeError}`);
      }
    });
  });
});

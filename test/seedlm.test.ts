// seedlm: the LFSR and matrices of docs/METHODS.md ("seedlm") against an independent statement,
// the exhaustive search (planted blocks, the replication's error level, AVX2 equal to scalar), the
// integer decoder, and the method end to end.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { backendInfo } from '../lib/index';
import { parseSpec } from '../lib/methods/registry';
import { native, type KernelPath } from '../lib/native';
import { Rng } from '../lib/core/random';
import { verify } from '../lib/pipeline/verify';
import { firstDifference, gaussian } from './helpers';

const avx2 = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.fma;
const PRESETS = [
  { C: 8, P: 3, published: 0.123 },
  { C: 12, P: 4, published: 0.226 },
] as const;

/** The LFSR of the definition, written out independently: taps 0, 1, 3, 12; shift right; feedback into bit 15. */
const lfsrNext = (s: number) => (s >>> 1) | ((((s >>> 0) ^ (s >>> 1) ^ (s >>> 3) ^ (s >>> 12)) & 1) << 15);

function search(w: Float32Array, C: number, P: number, eMin: number, path?: KernelPath, keep = 0) {
  const blocks = Math.ceil(w.length / C);
  const seeds = new Uint16Array(blocks);
  const fields = new Uint8Array(blocks * (P + 1));
  native.kernelRow('seedlm_search', { weights: w, C, P, eMin, keep, seeds, fields }, path);
  return { seeds, fields };
}

/** The decoder's job (the decoder is not a kernel row: it is bit-exact everywhere). */
async function decode(C: number, P: number, eMin: number, seeds: Uint16Array, fields: Uint8Array, n = seeds.length * C): Promise<Float32Array> {
  const out = new Float32Array(n);
  await native.seedlmDecode({ out, C, P, eMin, seeds, fields }).promise;
  return out;
}

/** The LFSR states after `seed`, from the tables' cycle. */
function states(C: number, P: number, seed: number, count: number): number[] {
  const { cycle } = native.seedlmTables(C, P);
  const at = cycle.indexOf(seed);
  return Array.from({ length: count }, (_, k) => cycle[(at + k + 1) % cycle.length]);
}

/** Decoding as the definition states it: int32 Σ (x − 2^15)·q, then one f32 multiply by f32(2^e / 32767). */
function decodeOracle(C: number, P: number, eMin: number, seeds: Uint16Array, fields: Uint8Array): Float32Array {
  const out = new Float32Array(seeds.length * C);
  seeds.forEach((seed, b) => {
    const f = fields.subarray(b * (P + 1), (b + 1) * (P + 1));
    const scale = Math.fround(2 ** (eMin + f[0]) / 32767);
    let x = seed;
    const states: number[] = [];
    for (let k = 0; k < C * P; k++) states.push((x = lfsrNext(x)));
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let p = 0; p < P; p++) acc += (states[c * P + p] - 32768) * ((f[1 + p] << 24) >> 24);
      out[b * C + c] = Math.fround(acc * scale);
    }
  });
  return out;
}

function relativeError(w: Float32Array, out: Float32Array): number {
  let num = 0, den = 0;
  w.forEach((x, i) => {
    num += (x - out[i]) ** 2;
    den += x * x;
  });
  return Math.sqrt(num / den);
}

describe('seedlm', function () {
  this.timeout(120000);

  it('LFSR: the stated sequence, period 65535, and U(s) taken from the states after s', () => {
    assert.deepEqual(states(8, 3, 1, 6), [32768, 16384, 8192, 4096, 34816, 17408]);
    const all = states(8, 3, 1, 65535);
    assert.equal(all[65534], 1, 'back to the seed after 65535 steps');
    assert.equal(new Set(all).size, 65535, 'every non-zero state once');
    for (const seed of [1, 2, 777, 40000, 65535]) {
      let x = seed;
      const want = Array.from({ length: 100 }, () => (x = lfsrNext(x)));
      assert.deepEqual(states(12, 4, seed, 100), want, `seed ${seed}`);
    }
  });

  it('pseudo-inverses are accurate for every seed (pinv·U = I within 1e-4, in f64)', () => {
    for (const { C, P } of PRESETS) assert.ok(native.seedlmTables(C, P).worstInverseError < 1e-4, `C ${C} P ${P}`);
  });

  it('the decoder is the integer formula of the definition, bit for bit', async () => {
    const r = new Rng(5);
    for (const { C, P } of PRESETS) {
      const blocks = 200;
      const seeds = Uint16Array.from({ length: blocks }, () => 1 + Math.floor(r.uniform() * 65535));
      const fields = Uint8Array.from({ length: blocks * (P + 1) }, (_, i) => (i % (P + 1) === 0 ? Math.floor(r.uniform() * 16) : (Math.floor(r.uniform() * 16) - 8) & 255));
      for (const eMin of [-110, -20, 0, 85]) {
        const out = await decode(C, P, eMin, seeds, fields);
        assert.equal(firstDifference(out, decodeOracle(C, P, eMin, seeds, fields)), -1, `C ${C} eMin ${eMin}`);
      }
    }
  });

  it('recovers planted blocks exactly (seed, exponent and coefficients)', () => {
    // U(pred(s)) is U(s) shifted by one state, so a block whose first or last coefficient is 0 has
    // a second exact representation. Planted blocks here have neither, and one coefficient of
    // magnitude 5..7, so the planted exponent is the smallest that fits.
    const r = new Rng(11);
    const nonZero = () => (r.uniform() < 0.5 ? -1 : 1) * (1 + Math.floor(r.uniform() * 7));
    for (const { C, P } of PRESETS) {
      const blocks = 24;
      const eMin = -12;
      const seeds = Uint16Array.from({ length: blocks }, () => 1 + Math.floor(r.uniform() * 65535));
      const fields = new Uint8Array(blocks * (P + 1));
      for (let b = 0; b < blocks; b++) {
        const f = fields.subarray(b * (P + 1), (b + 1) * (P + 1));
        f[0] = 3 + Math.floor(r.uniform() * 10);
        for (let p = 0; p < P; p++) f[1 + p] = (p === 0 || p === P - 1 ? nonZero() : Math.floor(r.uniform() * 16) - 8) & 255;
        const big = Math.floor(r.uniform() * P);
        f[1 + big] = ((r.uniform() < 0.5 ? -1 : 1) * (5 + Math.floor(r.uniform() * 3))) & 255;
      }
      const w = decodeOracle(C, P, eMin, seeds, fields);
      for (const path of avx2 ? (['avx2', 'scalar'] as const) : (['scalar'] as const)) {
        const n = path === 'scalar' ? 4 : blocks;
        const got = search(w.subarray(0, n * C), C, P, eMin, path);
        assert.deepEqual([...got.seeds], [...seeds.subarray(0, n)], `C ${C} ${path} seeds`);
        assert.deepEqual([...got.fields], [...fields.subarray(0, n * (P + 1))], `C ${C} ${path} fields`);
      }
    }
  });

  it('relative error on N(0,1) blocks is close to the published replication (0.123 at 4 bits, 0.226 at 3)', async () => {
    for (const { C, P, published } of PRESETS) {
      const w = gaussian(384 * C, C);
      const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
      const { seeds, fields } = search(w, C, P, eMin, avx2 ? 'avx2' : undefined); // statistics, not paths
      const err = relativeError(w, await decode(C, P, eMin, seeds, fields, w.length));
      // 384 blocks: the sampling spread of the estimate is about ±0.006.
      assert.ok(Math.abs(err - published) < 0.015, `C ${C} P ${P}: ${err} vs ${published}`);
    }
  });

  it('the approximate mode: AVX2 equals scalar, the exact search is never worse, and it costs little error', async () => {
    for (const { C, P } of PRESETS) {
      const w = gaussian(48 * C + 3, 9 * C);
      const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
      const fast = search(w, C, P, eMin, avx2 ? 'avx2' : undefined, 8);
      if (avx2) {
        const ref = search(w.subarray(0, 4 * C), C, P, eMin, 'scalar', 8);
        assert.deepEqual([...fast.seeds.subarray(0, 4)], [...ref.seeds], `C ${C} seeds`);
        assert.deepEqual([...fast.fields.subarray(0, 4 * (P + 1))], [...ref.fields], `C ${C} fields`);
      }
      const exact = search(w, C, P, eMin, avx2 ? 'avx2' : undefined);
      const errors: number[][] = [];
      for (const { seeds, fields } of [fast, exact]) {
        const out = await decode(C, P, eMin, seeds, fields);
        errors.push(Array.from(seeds, (_, b) => w.subarray(b * C, (b + 1) * C).reduce((a, x, c) => a + (x - out[b * C + c]) ** 2, 0)));
      }
      errors[1].forEach((e, b) => assert.ok(e <= errors[0][b] * (1 + 1e-5) + 1e-12, `C ${C} block ${b}: exact ${e} > fast ${errors[0][b]}`));
      const total = errors.map((es) => es.reduce((a, x) => a + x, 0));
      assert.ok(total[0] <= total[1] * 1.15, `C ${C}: the approximate mode costs ${((total[0] / total[1] - 1) * 100).toFixed(1)}% error`);
    }
  });

  (avx2 ? it : it.skip)('AVX2 chooses the same seeds and fields as the scalar reference', () => {
    for (const { C, P } of PRESETS) {
      const n = 13 * C + 5; // a padded tail block
      const w = gaussian(n, 3 * C, 0.02);
      w.fill(0, 2 * C, 3 * C); // an all-zero block
      for (let i = 3 * C; i < 4 * C; i++) w[i] *= 1e-4; // a block near the bottom of the exponent range
      w[5 * C] = 0.5; // an outlier
      const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
      const a = search(w, C, P, eMin, 'scalar');
      const b = search(w, C, P, eMin, 'avx2');
      assert.deepEqual([...b.seeds], [...a.seeds], `C ${C} seeds`);
      assert.deepEqual([...b.fields], [...a.fields], `C ${C} fields`);
      assert.equal(a.seeds[2], 1, 'an all-zero block ties everywhere: the smallest seed');
    }
  });

  it('validates sizes and presets', async () => {
    const call = (n: number, P: number, eMin: number, keep: number, seeds: number, fields: number) =>
      native.seedlmEncode({ weights: new Float32Array(n), C: 8, P, eMin, keep, seeds: new Uint16Array(seeds), fields: new Uint8Array(fields) });
    assert.throws(() => call(16, 4, 0, 0, 2, 10), /seedlm supports C 8, P 3 and C 12, P 4/);
    assert.throws(() => call(17, 3, 0, 0, 2, 8), /seeds must hold 3 values/);
    assert.throws(() => call(16, 3, 0, 0, 2, 7), /fields must hold 8 bytes/);
    assert.throws(() => call(16, 3, -111, 0, 2, 8), /eMin/);
    assert.throws(() => call(16, 3, 0, 33, 2, 8), /keep/);
    await assert.rejects(decode(8, 3, 0, new Uint16Array(1), new Uint8Array(4)), /corrupt block/);
    assert.throws(() => search(new Float32Array(8).fill(3e38), 8, 3, 100), /no finite fit \(weights too large for f32\)/);
    assert.equal(parseSpec('seedlm:4').spec, 'seedlm:4');
    assert.equal(parseSpec('seedlm:3:fast').spec, 'seedlm:3:fast');
    assert.throws(() => parseSpec('seedlm:5'), /seedlm needs a preset/);
    assert.throws(() => parseSpec('seedlm:4:quick'), /seedlm needs a preset/);
  });

  describe('end to end', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-seedlm-'));
      await generateCheckpoint(path.join(dir, 'm'), { hidden: 32, intermediate: 128, vocab: 256, layers: 1 });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('seedlm:4 and seedlm:3 compress, report measured errors, and verify', async () => {
      const file = path.join(dir, 's.tzip');
      const r = await compress(path.join(dir, 'm'), file, {
        method: 'lossless',
        policy: { '*.mlp.down_proj.*': 'seedlm:4', '*.mlp.up_proj.*': 'seedlm:3' },
      });
      const down = r.tensors.find((t) => t.name.endsWith('mlp.down_proj.weight'))!;
      const up = r.tensors.find((t) => t.name.endsWith('mlp.up_proj.weight'))!;
      assert.equal(down.method, 'seedlm:4');
      assert.equal(up.method, 'seedlm:3');
      assert.ok(Math.abs(down.nominalBitsPerWeight! - 4) < 0.01, `${down.nominalBitsPerWeight}`);
      assert.ok(Math.abs(up.nominalBitsPerWeight! - 3) < 0.01, `${up.nominalBitsPerWeight}`);
      assert.ok(down.metrics!.relativeError > 0.08 && down.metrics!.relativeError < 0.16, `${down.metrics!.relativeError}`);
      assert.ok(up.metrics!.relativeError > 0.17 && up.metrics!.relativeError < 0.28, `${up.metrics!.relativeError}`);
      const v = await verify(file, path.join(dir, 'm'));
      assert.ok(v.ok, v.problems.join('; '));
    });
  });
});

// The statistics the pipeline measures (binding/cpu/quant/error_stats.h): the documented summation
// order, checked against a reference written here from the definition; the same figures from the
// calling thread and from a job on any thread count; and the encoders' `measure`, which decodes in
// the encoding job, equal to decoding separately and summing.
import { strict as assert } from 'node:assert';
import { runJob } from '../lib/jobs';
import { native, type ErrorSums, type WeightStats } from '../lib/native';
import { fromF32, toF32 } from '../lib/methods/f32';
import { firstDifference, gaussian } from './helpers';

const WINDOW = 1 << 16;
const N = 3 * WINDOW + 4321; // three whole windows and a partial one

/** Windows of 2^16 elements, each summed in four lanes (i mod 4), lanes then windows added in order. */
function referenceSums(a: Float32Array, b: Float32Array): ErrorSums {
  const total = { signal: 0, noise: 0, dot: 0, recon: 0, maxAbs: 0 };
  for (let w = 0; w < a.length; w += WINDOW) {
    const lanes = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
    for (let i = w; i < Math.min(a.length, w + WINDOW); i++) {
      const l = lanes[(i - w) & 3], x = a[i], y = b[i], d = x - y;
      l[0] += x * x;
      l[1] += d * d;
      l[2] += x * y;
      l[3] += y * y;
      total.maxAbs = Math.max(total.maxAbs, Math.abs(d));
    }
    const sum = (k: number) => lanes[0][k] + lanes[1][k] + (lanes[2][k] + lanes[3][k]);
    total.signal += sum(0);
    total.noise += sum(1);
    total.dot += sum(2);
    total.recon += sum(3);
  }
  return total;
}

function referenceStats(a: Float32Array): WeightStats {
  const s = { nonFinite: 0, absSum: 0, absMax: 0 };
  for (let w = 0; w < a.length; w += WINDOW) {
    const lanes = [0, 0, 0, 0];
    for (let i = w; i < Math.min(a.length, w + WINDOW); i++) {
      if (!Number.isFinite(a[i])) s.nonFinite++;
      else (lanes[(i - w) & 3] += Math.abs(a[i])), (s.absMax = Math.max(s.absMax, Math.abs(a[i])));
    }
    s.absSum += lanes[0] + lanes[1] + (lanes[2] + lanes[3]);
  }
  return s;
}

const u16 = (v: Uint8Array) => new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2);


describe('measured statistics', () => {
  const a = gaussian(N, 1, 0.02);
  const b = a.map((x, i) => x + (i % 7) * 1e-4);
  a[5] = NaN;
  a[WINDOW + 9] = -Infinity;
  b[5] = 0;
  b[WINDOW + 9] = 0;
  const finite = (x: Float32Array) => x.map((v) => (Number.isFinite(v) ? v : 0));

  it('sums in the documented order, for F32, BF16 and F16, on the calling thread and in a job on 1 or 2 threads', async () => {
    for (const dtype of ['F32', 'BF16', 'F16'] as const) {
      const [x, y] = [finite(a), b].map((v) => (dtype === 'F32' ? new Uint8Array(v.buffer) : fromF32(dtype, v)));
      const want = referenceSums(toF32(dtype, x), toF32(dtype, y));
      const [xs, ys] = [x, y].map((v) => (dtype === 'F32' ? new Float32Array(v.buffer) : u16(v)));
      const sync = xs instanceof Float32Array ? native.tensorStats(xs, ys as Float32Array) : native.tensorStats(xs, ys as Uint16Array, dtype as 'BF16' | 'F16');
      assert.deepEqual(sync, want, dtype);
      for (const threads of [1, 2]) assert.deepEqual(await runJob((p) => native.tensorStats({ weights: xs, reconstructed: ys, dtype, threads }, p)), want, `${dtype} job, ${threads} threads`);
    }
    const stats = referenceStats(a);
    assert.deepEqual(native.tensorStats(a), stats);
    assert.equal(stats.nonFinite, 2);
    for (const threads of [1, 2]) assert.deepEqual(await runJob((p) => native.tensorStats({ weights: a, threads }, p)), stats);
  });

  it('refuses arrays of different lengths or of the wrong type for the dtype', () => {
    assert.throws(() => native.tensorStats({ weights: a, reconstructed: b.subarray(1) }), /differ in length or type/);
    assert.throws(() => native.tensorStats({ weights: a, dtype: 'BF16' }), /Uint16Array with dtype 'BF16' or 'F16'/);
    assert.throws(() => native.tensorStats({ weights: new Uint16Array(4) }), /Float32Array, or a Uint16Array/);
  });

  it('rtn: BF16 and F16 weights encode as their f32 values; measure equals decoding and summing apart', async () => {
    const w = gaussian(N, 2, 0.02);
    for (const dtype of ['BF16', 'F16'] as const) {
      const raw = fromF32(dtype, w);
      const bits16 = u16(raw);
      const wide = toF32(dtype, raw);
      for (const [bits, group] of [[4, 32], [3, 24]]) {
        const arrays = () => ({ codes: new Uint8Array(Math.ceil((N * bits) / 8)), scales: new Uint16Array(Math.ceil(N / group)) });
        const f32 = arrays(), direct = arrays();
        await runJob((p) => native.rtnEncode({ weights: wide, bits, group, ...f32, threads: 2 }, p));
        const sums = await runJob((p) => native.rtnEncode({ weights: bits16, dtype, bits, group, ...direct, measure: true, threads: 2 }, p));
        assert.equal(firstDifference(direct.codes, f32.codes), -1);
        assert.equal(firstDifference(direct.scales, f32.scales), -1);
        const out = new Float32Array(N);
        await runJob((p) => native.rtnDecode({ out, bits, group, ...f32 }, p));
        const back = new Uint16Array(N);
        await runJob((p) => native.rtnDecode({ out: back, dtype, bits, group, ...f32, threads: 2 }, p));
        const rounded = fromF32(dtype, out);
        assert.equal(firstDifference(new Uint8Array(back.buffer), rounded), -1, `${dtype} rtn:${bits}:g${group} decoded in the dtype`);
        assert.deepEqual(sums, native.tensorStats(bits16, back, dtype), `${dtype} rtn:${bits}:g${group} measured`);
        assert.ok(sums.noise > 0 && sums.noise < 0.05 * sums.signal);
      }
    }
    assert.throws(() => native.rtnEncode({ weights: w, dtype: 'BF16', bits: 4, group: 32, codes: new Uint8Array(N / 2 + 1), scales: new Uint16Array(Math.ceil(N / 32)) }), /weights/);
  });

  it('ternary: measure equals decoding and summing apart, group and tensor scales', async () => {
    const w = gaussian(N, 3, 0.02);
    const raw = fromF32('F16', w);
    const weights = u16(raw);
    for (const tensorScale of [-1, 0.015]) {
      const layout = { dtype: 'F16' as const, group: 256, packing: 3 as const, tensorScale, packed: new Uint8Array(Math.ceil(N / 5)), scales: new Uint16Array(tensorScale >= 0 ? 0 : Math.ceil(N / 256)) };
      const sums = await runJob((p) => native.ternaryEncode({ ...layout, weights, measure: true, threads: 2 }, p));
      const out = new Uint16Array(N);
      await runJob((p) => native.ternaryDecode({ ...layout, out }, p));
      assert.deepEqual(sums, native.tensorStats(weights, out, 'F16'), `tensorScale ${tensorScale}`);
      assert.ok(sums.noise > 0);
    }
  });
});

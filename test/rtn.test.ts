// rtn kernels: AVX2 equals scalar bit for bit (codes, scales, decoded values), the definition in
// binding/cpu/quant/rtn.h holds (error bound, zero groups, partial groups), bad arguments are refused.
import { strict as assert } from 'node:assert';
import { backendInfo } from '../lib/index';
import { native, type KernelPath } from '../lib/native';
import { Rng } from '../lib/core/random';
import { f16ToF32 } from '../lib/convert';
import { firstDifference } from './helpers';

const avx2 = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.f16c;

function weights(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = rng.normal() * 0.02 * (rng.uniform() < 0.01 ? 10 : 1);
  return w;
}

function encode(w: Float32Array, bits: number, group: number, path: KernelPath) {
  const codes = new Uint8Array(Math.ceil((w.length * bits) / 8));
  const scales = new Uint16Array(Math.ceil(w.length / group));
  native.kernelRow('rtn_encode', { weights: w, bits, group, codes, scales }, path);
  const out = new Float32Array(w.length);
  native.kernelRow('rtn_decode', { out, bits, group, codes, scales }, path);
  return { codes, scales, out };
}

describe('rtn kernels', () => {
  it('meets the definition: |w - w\'| <= s/2 per group, codes in [0, 2*qmax]', () => {
    for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
      const group = 32;
      const w = weights(1000, bits);
      const { scales, out } = encode(w, bits, group, 'scalar');
      const s = f16ToF32(scales);
      const qmax = 2 ** (bits - 1) - 1;
      for (let i = 0; i < w.length; i++) {
        const step = s[Math.floor(i / group)];
        assert.ok(Math.abs(w[i] - out[i]) <= step / 2 + 1e-12, `bits ${bits} element ${i}`);
        const q = Math.round(out[i] / step);
        assert.ok(Math.abs(q) <= qmax);
      }
    }
  });

  it('zero groups decode to zero; a partial last group is handled', () => {
    const w = new Float32Array(40 + 13);
    w.fill(0.5, 40);
    const { scales, out } = encode(w, 4, 40 - 0 === 40 ? 40 : 8, 'scalar');
    assert.equal(scales[0], 0);
    assert.deepEqual([...out.subarray(0, 40)], new Array(40).fill(0));
    assert.ok(out.subarray(40).every((x) => Math.abs(x - 0.5) < 1e-3));
  });

  it('refuses a scale that overflows f16, with a clear error', () => {
    assert.throws(() => encode(Float32Array.from([1e9, 1, 2, 3, 4, 5, 6, 7]), 4, 8, 'scalar'), /overflows f16/);
  });

  it('validates sizes and parameters', () => {
    const w = new Float32Array(64);
    const call = (bits: number, group: number, codes: number, scales: number) =>
      native.rtnEncode({ weights: w, bits, group, codes: new Uint8Array(codes), scales: new Uint16Array(scales) });
    assert.throws(() => call(9, 32, 72, 2), /bits must be an integer in \[2, 8\]/);
    assert.throws(() => call(4, 12, 32, 6), /group must be a multiple of 8/);
    assert.throws(() => call(4, 32, 31, 2), /codes must hold 32 bytes, got 31/);
    assert.throws(() => call(4, 32, 32, 3), /scales must hold 2 values, got 3/);
    assert.throws(() => native.rtnEncode({ weights: w, bits: 4, group: 32, codes: new Uint8Array(32) } as never), /scales must be a Uint16Array/);
  });

  (avx2 ? it : it.skip)('AVX2 equals scalar bit for bit (codes, scales, decoded) for every width and odd sizes', () => {
    for (const bits of [2, 3, 4, 5, 6, 7, 8])
      for (const group of [8, 32, 128])
        for (const n of [1, 7, 8, 9, 31, 33, 1000, 4099]) {
          const w = weights(n, bits * 1000 + n);
          const a = encode(w, bits, group, 'scalar');
          const b = encode(w, bits, group, 'avx2');
          const where = `bits ${bits} group ${group} n ${n}`;
          assert.equal(firstDifference(a.codes, b.codes), -1, `codes differ: ${where}`);
          assert.equal(firstDifference(a.scales, b.scales), -1, `scales differ: ${where}`);
          assert.equal(firstDifference(new Uint32Array(a.out.buffer), new Uint32Array(b.out.buffer)), -1, `decoded differs: ${where}`);
        }
  });

  it('the threaded job equals the kernel row run whole, for any thread count', async () => {
    const w = weights(1 << 20, 5);
    const want = encode(w, 4, 32, 'auto');
    for (const threads of [1, 2, 3]) {
      const codes = new Uint8Array(want.codes.length);
      const scales = new Uint16Array(want.scales.length);
      await native.rtnEncode({ weights: w, bits: 4, group: 32, codes, scales, threads }).promise;
      assert.equal(firstDifference(codes, want.codes), -1);
      assert.equal(firstDifference(scales, want.scales), -1);
    }
  });
});

describe('rtn with importance (weighted scale search)', () => {
  const weightedError = (w: Float32Array, out: Float32Array, a: Float32Array, from = 0, to = w.length) => {
    let e = 0;
    for (let i = from; i < to; i++) e += a[i] * (w[i] - out[i]) ** 2;
    return e;
  };
  async function weighted(w: Float32Array, bits: number, group: number, a: Float32Array, threads = 2) {
    const codes = new Uint8Array(Math.ceil((w.length * bits) / 8));
    const scales = new Uint16Array(Math.ceil(w.length / group));
    await native.rtnEncode({ weights: w, bits, group, codes, scales, importance: a, threads }).promise;
    const out = new Float32Array(w.length);
    native.kernelRow('rtn_decode', { out, bits, group, codes, scales });
    return { codes, scales, out };
  }

  it('never leaves more weighted error than absmax rtn in any group, and less overall', async () => {
    const rng = new Rng(9);
    for (const [bits, group] of [[2, 32], [3, 32], [4, 32], [8, 128]]) {
      const w = weights(8192 + 40, bits);
      const a = Float32Array.from(w, () => Math.exp(3 * rng.normal()));
      const plain = encode(w, bits, group, 'scalar');
      const r = await weighted(w, bits, group, a);
      for (let g = 0; g * group < w.length; g++) {
        const from = g * group, to = Math.min(w.length, from + group);
        assert.ok(weightedError(w, r.out, a, from, to) <= weightedError(w, plain.out, a, from, to) * (1 + 1e-12), `bits ${bits} group ${g}`);
      }
      const gain = weightedError(w, r.out, a) / weightedError(w, plain.out, a);
      assert.ok(gain < (bits === 8 ? 0.99 : 0.9), `bits ${bits}: weighted error ratio ${gain}`);
      // Codes are round(w / s) for the stored scale: decoding is plain rtn's.
      for (let g = 0; g * group < w.length; g++) {
        const s = f16ToF32(r.scales.subarray(g, g + 1))[0];
        const qmax = (1 << (bits - 1)) - 1;
        for (let i = g * group; i < Math.min(w.length, (g + 1) * group); i++) {
          const q = s > 0 ? Math.min(qmax, Math.max(-qmax, roundHalfEven(Math.fround(w[i] * Math.fround(1 / s))))) : 0;
          assert.equal(r.out[i], Math.fround(q * s) + 0, `element ${i}`);
        }
      }
    }
  });

  it('is deterministic for any thread count, keeps the absmax scales for all-zero importance, and refuses bad importance', async () => {
    const w = weights(4096, 3);
    const a = Float32Array.from(w, (_, i) => 1 + (i % 7));
    const one = await weighted(w, 4, 32, a, 1), two = await weighted(w, 4, 32, a, 2);
    assert.equal(firstDifference(one.codes, two.codes), -1);
    assert.equal(firstDifference(one.scales, two.scales), -1);
    const zero = await weighted(w, 4, 32, new Float32Array(w.length));
    assert.equal(firstDifference(zero.scales, encode(w, 4, 32, 'scalar').scales), -1, 'all-zero importance keeps the absmax scales');
    const bad = Float32Array.from(a);
    bad[5] = -1;
    const call = (importance: Float32Array) => native.rtnEncode({ weights: w, bits: 4, group: 32, codes: new Uint8Array(2048), scales: new Uint16Array(128), importance });
    assert.throws(() => call(bad), /importance must be finite and >= 0/);
    assert.throws(() => call(a.subarray(1)), /importance must hold one value per weight/);
  });
});

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

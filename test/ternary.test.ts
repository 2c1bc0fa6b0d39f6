// ternary kernels and method: the definition of binding/cpu/quant/ternary.h (absmean scales, trits,
// packings), AVX2 equal to scalar bit for bit, edge cases, and the method end to end.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { backendInfo } from '../lib/index';
import { parseSpec } from '../lib/methods/registry';
import { native, type KernelPath, type TernaryDtype, type TernaryWeights } from '../lib/native';
import { Rng } from '../lib/core/random';
import { formatCompress } from '../lib/cli/report';
import { verify } from '../lib/pipeline/verify';
import { firstDifference, gaussian } from './helpers';

const avx2 = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.f16c;
type Packing = 2 | 3;

function runRaw(w: TernaryWeights, dtype: TernaryDtype, group: number, packing: Packing, tensorScale: number, path: KernelPath, rounds = 0) {
  const per = packing === 3 ? 5 : 4;
  const packed = new Uint8Array(Math.ceil(w.length / per));
  const scales = new Uint16Array(tensorScale >= 0 ? 0 : Math.ceil(w.length / group));
  native.kernelRow('ternary_encode', { weights: w, dtype, group, packing, tensorScale, rounds, packed, scales }, path);
  const out = dtype === 'F32' ? new Float32Array(w.length) : new Uint16Array(w.length);
  native.kernelRow('ternary_decode', { out, dtype, group, packing, tensorScale, packed, scales }, path);
  return { packed, scales, out };
}

function run(w: Float32Array, group: number, packing: Packing, tensorScale: number, path: KernelPath, rounds = 0) {
  const r = runRaw(w, 'F32', group, packing, tensorScale, path, rounds);
  return { ...r, out: r.out as Float32Array };
}

describe('ternary', () => {
  it('packs every trit pattern in the defined block layout and unpacks it exactly (both packings)', () => {
    for (const packing of [3, 2] as const) {
      const per = packing === 3 ? 5 : 4;
      const patterns = 3 ** per;
      const blocks = Math.ceil(patterns / 32);
      const n = blocks * 32 * per + 7; // whole blocks, then a contiguous tail
      // Independent statement of the layout: byte b of a block holds codes m, m+32, ... (m = b % 32);
      // tail bytes hold consecutive codes; padding is code 1.
      const codes = new Uint8Array(n);
      const bytes = Math.ceil(n / per);
      const expected = new Uint8Array(bytes);
      for (let b = 0; b < bytes; b++) {
        const pattern = b % patterns;
        let byte = 0;
        for (let k = 0; k < per; k++) {
          const full = b < blocks * 32;
          const i = full ? Math.floor(b / 32) * 32 * per + 32 * k + (b % 32) : blocks * 32 * per + (b - blocks * 32) * per + k;
          const code = i < n ? Math.floor(pattern / 3 ** k) % 3 : 1;
          if (i < n) codes[i] = code;
          byte += packing === 3 ? code * 3 ** k : code << (2 * k);
        }
        expected[b] = byte;
      }
      const w = Float32Array.from(codes, (c) => c - 1);
      for (const path of avx2 ? (['scalar', 'avx2'] as const) : (['scalar'] as const)) {
        const { packed, out } = run(w, 1, packing, 1, path);
        assert.equal(firstDifference(packed, expected), -1, `p${packing} ${path} bytes`);
        assert.equal(firstDifference(out, w), -1, `p${packing} ${path} decoded`);
      }
    }
  });

  it('follows the absmean definition per group, with f16 scales and ties to even', () => {
    const w = Float32Array.from([0.1, -0.2, 0.3, 0.0, 0.05, -0.6, 0.15, 0.25]); // mean |w| = 0.2
    const { scales, out } = run(w, 8, 3, -1, 'scalar');
    const gamma = native.tensorStats(w).absSum / 8;
    const s = new Float32Array(1);
    native.kernelRow('f16_to_f32', { src: scales, dst: s });
    assert.ok(Math.abs(s[0] - gamma) < 1e-4);
    // w / (γ + 1e-8): 0.5 -> 0 (tie to even), -1 -> -1, 1.5 -> 2 -> clamp 1, 0, 0.25 -> 0, -3 -> -1, 0.75 -> 1, 1.25 -> 1
    assert.deepEqual([...out].map((x) => Math.round(x / s[0])), [0, -1, 1, 0, 0, -1, 1, 1]);
  });

  it('all-zero, constant, tiny and tail-length tensors', () => {
    const zeros = run(new Float32Array(13), 8, 3, -1, 'scalar');
    assert.deepEqual([...zeros.scales], [0, 0]);
    assert.ok(zeros.out.every((x) => x === 0));
    const constant = run(new Float32Array(20).fill(-0.5), 256, 2, -1, 'scalar');
    assert.ok(constant.out.every((x) => x === -0.5));
    // The +1e-8 of the definition rounds weights far below 1e-8 to zero.
    const tiny = run(new Float32Array(16).fill(1e-12), 16, 3, -1, 'scalar');
    assert.ok(tiny.out.every((x) => x === 0));
    for (const n of [1, 2, 3, 4, 5, 6, 7, 11, 159, 160, 161]) assert.equal(run(gaussian(n, n, 0.02), 4, 3, -1, 'scalar').packed.length, Math.ceil(n / 5));
  });

  it('refuses a group scale beyond f16 and accepts it per tensor (f32 scale)', () => {
    const huge = new Float32Array(8).fill(1e6);
    assert.throws(() => run(huge, 8, 3, -1, 'scalar'), /overflows f16; use ternary:tensor/);
    assert.ok(run(huge, 8, 3, 1e6, 'scalar').out.every((x) => x === 1e6));
  });

  (avx2 ? it : it.skip)('AVX2 equals scalar bit for bit: codes, scales and decoded values', () => {
    for (const packing of [3, 2] as const)
      for (const group of [1, 7, 8, 64, 256, 1000])
        for (const n of [1, 9, 63, 128, 160, 257, 4099, 20000]) {
          const w = gaussian(n, group * 7 + n, 0.02);
          w[0] *= 50; // an outlier
          for (const [tensorScale, rounds] of [[-1, 0], [-1, 3], [0.015, 0]]) {
            const a = run(w, group, packing, tensorScale, 'scalar', rounds);
            const b = run(w, group, packing, tensorScale, 'avx2', rounds);
            const where = `p${packing} g${group} n${n} scale ${tensorScale} rounds ${rounds}`;
            assert.equal(firstDifference(a.packed, b.packed), -1, `packed: ${where}`);
            assert.equal(firstDifference(a.scales, b.scales), -1, `scales: ${where}`);
            assert.equal(firstDifference(new Uint32Array(a.out.buffer), new Uint32Array(b.out.buffer)), -1, `decoded: ${where}`);
          }
        }
  });

  it('the threshold form of the kernels equals the division of the definition at the rounding boundary', () => {
    // For weights a few ulps either side of (γ + 1e-8) / 2, the trit must match an independent
    // oracle: the f32 quotient (JS double division rounded once to f32 is the f32 quotient),
    // rounded half to even, clamped. Per-tensor mode fixes γ; f32, bf16 and f16 weights.
    const bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
    const f32 = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0];
    const halfEven = (q: number) => (Math.abs(q % 1) === 0.5 ? 2 * Math.round(q / 2) : Math.round(q));
    for (const gamma of [0.02, 0.0137, 1, 3.3e-5, 0, 1e-9, 777.7]) {
      const g = Math.fround(gamma);
      const d = Math.fround(g + Math.fround(1e-8));
      const centre = bits(Math.fround(d / 2));
      const values: number[] = [];
      // Repeated so whole SIMD rows and packing blocks see them, not only the scalar tail.
      for (let rep = 0; rep < 23; rep++) for (let k = -4; k <= 4; k++) for (const s of [1, -1]) values.push(s * f32(centre + k));
      const cases: [TernaryDtype, TernaryWeights, Float32Array][] = [['F32', Float32Array.from(values), Float32Array.from(values)]];
      for (const [dtype, kind] of [['BF16', 'bf16'], ['F16', 'f16']] as const) {
        const h = new Uint16Array(values.length);
        native.kernelRow(`f32_to_${kind}`, { src: Float32Array.from(values), dst: h });
        // Neighbours of the rounded centre too (magnitude -1, 0, +1 ulp).
        h.forEach((x, i) => (h[i] = (x & 0x8000) | Math.max(0, (x & 0x7fff) + (Math.floor(i / 2) % 3) - 1)));
        const exact = new Float32Array(h.length);
        native.kernelRow(`${kind}_to_f32`, { src: h, dst: exact });
        cases.push([dtype, h, exact]);
      }
      for (const [dtype, w, exact] of cases) {
        // Decoded magnitude: γ rounded to the dtype.
        const mag = new Float32Array(1);
        if (dtype === 'F32') mag[0] = g;
        else {
          const h = new Uint16Array(1);
          native.kernelRow(dtype === 'BF16' ? 'f32_to_bf16' : 'f32_to_f16', { src: Float32Array.of(g), dst: h });
          native.kernelRow(dtype === 'BF16' ? 'bf16_to_f32' : 'f16_to_f32', { src: h, dst: mag });
        }
        for (const path of avx2 ? (['scalar', 'avx2'] as const) : (['scalar'] as const)) {
          const { out } = runRaw(w, dtype, 1, 3, g, path);
          const got = new Float32Array(out.length);
          if (dtype === 'F32') got.set(out as Float32Array);
          else native.kernelRow(dtype === 'BF16' ? 'bf16_to_f32' : 'f16_to_f32', { src: out, dst: got });
          exact.forEach((x, i) => {
            const t = Math.max(-1, Math.min(1, halfEven(Math.fround(x / d)))) + 0; // + 0: no -0 trit
            assert.equal(got[i], t * mag[0], `${dtype} ${path} γ=${g} w=${x}: trit ${t}`);
          });
        }
      }
    }
  });

  (avx2 ? it : it.skip)('bf16 and f16 in and out: AVX2 equals scalar bit for bit, and decoding rounds the f32 decode', () => {
    const r = new Rng(17);
    for (const [dtype, kind] of [['BF16', 'bf16'], ['F16', 'f16']] as const)
      for (const packing of [3, 2] as const)
        for (const group of [5, 32, 256, 1000])
          for (const n of [1, 31, 160, 161, 1283, 20000]) {
            const w = new Uint16Array(n);
            native.kernelRow(`f32_to_${kind}`, { src: gaussian(n, n + group, 0.02), dst: w });
            w[n >> 1] ^= 0x8000; // a sign flip, a subnormal and a huge value in tensor mode
            const raw = Uint16Array.from(w, (x, i) => (i % 97 === 3 ? Math.floor(r.uniform() * 0x10000) : x));
            for (const [tensorScale, rounds, input] of [[-1, 0, w], [-1, 3, w], [0.015, 0, raw]] as const) {
              const where = `${dtype} p${packing} g${group} n${n} scale ${tensorScale} rounds ${rounds}`;
              const a = runRaw(input, dtype, group, packing, tensorScale, 'scalar', rounds);
              const b = runRaw(input, dtype, group, packing, tensorScale, 'avx2', rounds);
              assert.equal(firstDifference(a.packed, b.packed), -1, `packed: ${where}`);
              assert.equal(firstDifference(a.scales, b.scales), -1, `scales: ${where}`);
              assert.equal(firstDifference(a.out, b.out), -1, `decoded: ${where}`);
              // The same codes decoded to f32, then rounded, give the same 16-bit values.
              const f = new Float32Array(n);
              native.kernelRow('ternary_decode', { out: f, dtype: 'F32', group, packing, tensorScale, packed: a.packed, scales: a.scales }, 'scalar');
              const rounded = new Uint16Array(n);
              native.kernelRow(`f32_to_${kind}`, { src: f, dst: rounded });
              assert.equal(firstDifference(rounded, a.out), -1, `rounded f32 decode: ${where}`);
            }
          }
  });

  it('refuses a dtype that does not match the array', () => {
    const packed = new Uint8Array(2);
    const scales = new Uint16Array(1);
    const call = (weights: TernaryWeights, dtype: TernaryDtype) => native.ternaryEncode({ weights, dtype, group: 8, packing: 3, packed, scales });
    assert.throws(() => call(new Float32Array(8), 'BF16'), /weights must be a Uint16Array/);
    assert.throws(() => call(new Uint16Array(8), 'F32'), /weights must be a Float32Array/);
    assert.throws(() => call(new Uint16Array(8), 'F64' as TernaryDtype), /dtype must be 'F32', 'BF16' or 'F16'/);
  });

  it(':opt lowers the error of every group at the same bits', () => {
    const w = gaussian(256 * 64, 9, 0.02);
    for (let i = 0; i < w.length; i += 97) w[i] *= 6; // heavy tails make absmean a poor scale
    const plain = run(w, 256, 3, -1, 'scalar');
    const opt = run(w, 256, 3, -1, 'scalar', 3);
    assert.equal(opt.packed.length, plain.packed.length);
    const groupError = (out: Float32Array, g: number) => {
      let e = 0;
      for (let i = g * 256; i < (g + 1) * 256; i++) e += (w[i] - out[i]) ** 2;
      return e;
    };
    let total = [0, 0];
    for (let g = 0; g < 64; g++) {
      const [a, b] = [groupError(plain.out, g), groupError(opt.out, g)];
      assert.ok(b <= a * (1 + 2e-3), `group ${g}: ${b} > ${a}`); // f16 rounding of the scale only
      total = [total[0] + a, total[1] + b];
    }
    assert.ok(total[1] < 0.97 * total[0], `opt saves at least 3%: ${total[1] / total[0]}`);
  });

  it('parses specs and resolves row scales to the tensor row length', () => {
    assert.equal(parseSpec('ternary:opt:p2').spec, 'ternary:g256:p2:opt');
    assert.throws(() => parseSpec('ternary:tensor:opt'), /opt refines group or row scales/);
    assert.equal(parseSpec('ternary').spec, 'ternary:g256:p3');
    assert.equal(parseSpec('ternary:p2:tensor').spec, 'ternary:tensor:p2');
    const row = parseSpec('ternary:row');
    assert.equal(row.method.format(row.method.resolve!(row.params, [1536, 8960])), 'ternary:g8960:p3');
    assert.throws(() => parseSpec('ternary:g0'), /group must be from 1/);
    assert.throws(() => parseSpec('ternary:p4'), /unknown option 'p4'/);
    assert.throws(() => parseSpec('ternary:row:tensor'), /repeats the scale option/);
  });

  describe('end to end', function () {
    this.timeout(60000);
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-ter-'));
      await generateCheckpoint(path.join(dir, 'm'), { hidden: 128, intermediate: 352, vocab: 512, layers: 1 });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    for (const [spec, bpw] of [['ternary', (8 * Math.ceil((352 * 128) / 5) + 16 * Math.ceil((352 * 128) / 256)) / (352 * 128)], ['ternary:row:p2', 2 + 16 / 128], ['ternary:tensor', undefined]] as const)
      it(`${spec}: verifies, reports the error, and warns that a non-ternary model will not work`, async () => {
        const file = path.join(dir, `${spec}.tzip`);
        const r = await compress(path.join(dir, 'm'), file, { method: spec });
        const up = r.tensors.find((t) => t.name.endsWith('mlp.up_proj.weight'))!;
        if (bpw !== undefined) assert.equal(up.nominalBitsPerWeight, bpw);
        // Ternarizing Gaussian-like weights loses about half of them (relative error ~0.5-0.6).
        assert.ok(up.metrics!.relativeError > 0.4 && up.metrics!.relativeError < 0.7, `${up.metrics!.relativeError}`);
        assert.match(formatCompress(r), /A model not trained for ternary weights \(BitNet b1\.58 style\) will not work at this setting/);
        const v = await verify(file, path.join(dir, 'm'));
        assert.ok(v.ok, v.problems.join('; '));
      });
  });
});

describe('ternary:opt with importance (weighted refinement)', () => {
  async function weighted(w: Float32Array, group: number, packing: Packing, a: Float32Array, threads = 2) {
    const packed = new Uint8Array(Math.ceil(w.length / (packing === 3 ? 5 : 4)));
    const scales = new Uint16Array(Math.ceil(w.length / group));
    await native.ternaryEncode({ weights: w, dtype: 'F32', group, packing, rounds: 3, packed, scales, importance: a, threads }).promise;
    const out = new Float32Array(w.length);
    native.kernelRow('ternary_decode', { out, dtype: 'F32', group, packing, packed, scales });
    return { packed, scales, out };
  }
  const werr = (w: Float32Array, out: Float32Array, a: Float32Array, from = 0, to = w.length) => {
    let e = 0;
    for (let i = from; i < to; i++) e += a[i] * (w[i] - out[i]) ** 2;
    return e;
  };

  it('never leaves more weighted error than :opt in any group, less overall, and decodes with the ternary decoder', async () => {
    const rng = new Rng(4);
    const w = gaussian(64 * 256 + 96, 8, 0.02);
    const a = Float32Array.from(w, () => Math.exp(2 * rng.normal()));
    for (const group of [64, 256]) {
      const plain = run(w, group, 3, -1, 'scalar', 3);
      const r = await weighted(w, group, 3, a);
      for (let g = 0; g * group < w.length; g++) {
        const from = g * group, to = Math.min(w.length, from + group);
        assert.ok(werr(w, r.out, a, from, to) <= werr(w, plain.out, a, from, to), `group ${g}`);
      }
      const gain = werr(w, r.out, a) / werr(w, plain.out, a);
      assert.ok(gain < 0.99, `g${group}: weighted error ratio ${gain}`);
    }
  });

  it('all-zero importance gives plain :opt byte for byte; any thread count gives the same bytes; bad importance is refused', async () => {
    const w = gaussian(8192, 3, 0.02);
    const zero = await weighted(w, 128, 2, new Float32Array(w.length));
    const plain = run(w, 128, 2, -1, 'scalar', 3);
    assert.equal(firstDifference(zero.packed, plain.packed), -1);
    assert.equal(firstDifference(zero.scales, plain.scales), -1);
    const a = Float32Array.from(w, (_, i) => 1 + (i % 5));
    const one = await weighted(w, 128, 3, a, 1), two = await weighted(w, 128, 3, a, 2);
    assert.equal(firstDifference(one.packed, two.packed), -1);
    assert.equal(firstDifference(one.scales, two.scales), -1);
    const bad = Float32Array.from(a);
    bad[3] = NaN;
    const call = (importance: Float32Array, tensorScale?: number) =>
      native.ternaryEncode({ weights: w, dtype: 'F32', group: 128, packing: 3, tensorScale, rounds: tensorScale === undefined ? 3 : 0, packed: new Uint8Array(1639), scales: new Uint16Array(tensorScale === undefined ? 64 : 0), importance });
    assert.throws(() => call(bad), /importance must be finite and >= 0/);
    assert.throws(() => call(a, 0.5), /importance weighting needs group scales/);
  });
});

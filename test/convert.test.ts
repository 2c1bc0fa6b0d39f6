// dtype conversion: scalar reference against independent oracles (exact arithmetic in JS),
// AVX2 against scalar bit for bit, async/threaded against sync, and bad-input handling.
import { strict as assert } from 'node:assert';
import { backendInfo, bf16ToF32, convertAsync, f16ToF32, f32ToBf16, f32ToF16, type KernelPath } from '../lib/index';
import { native, type ConvertKind, type KernelRowName } from '../lib/native';
import { bitsOf, firstDifference, floatsOf, hex, randomF32Bits, randomU16, specialF32Bits } from './helpers';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const valueOf = (bits: number) => ((u32[0] = bits), f32[0]);
const isNaNBits = (bits: number) => (bits & 0x7fffffff) > 0x7f800000;

// bf16: the two bf16 neighbours of |x| are its truncation and the next pattern up; pick the
// nearer, ties to the even pattern. Values compared in double (exact for these differences).
function oracleBf16(bits: number): number {
  if (isNaNBits(bits)) return ((bits >>> 16) | 0x40) & 0xffff;
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  const lo = a >>> 16;
  const x = valueOf(a);
  const vlo = valueOf(lo << 16);
  const vhi = lo + 1 === 0x7f80 ? 2 ** 128 : valueOf(((lo + 1) << 16) >>> 0);
  if (a === 0x7f800000) return sign | 0x7f80;
  const dLo = x - vlo;
  const dHi = vhi - x;
  const pick = dLo < dHi || (dLo === dHi && (lo & 1) === 0) ? lo : lo + 1;
  return sign | pick;
}

// f16 values by the textbook formula, independent of the native code.
function f16Value(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}
const positiveF16 = Float64Array.from({ length: 0x7c00 }, (_, h) => f16Value(h));

function oracleF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  if (isNaNBits(bits)) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  const x = valueOf(a);
  if (x >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7bff; // largest h with value <= x
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positiveF16[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  const up = lo + 1 <= 0x7bff ? positiveF16[lo + 1] : 65536;
  const dLo = x - positiveF16[lo];
  const dHi = up - x;
  const pick = dLo < dHi || (dLo === dHi && (lo & 1) === 0) ? lo : lo + 1;
  return sign | pick;
}

function oracleF16ToF32(h: number): number {
  const m = h & 0x3ff;
  if ((h & 0x7c00) === 0x7c00 && m) return ((h & 0x8000) << 16 | 0x7fc00000 | (m << 13)) >>> 0;
  f32[0] = f16Value(h);
  return u32[0];
}

const paths: KernelPath[] = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.f16c ? ['scalar', 'avx2'] : ['scalar'];

describe('dtype conversion', () => {
  const input = floatsOf(randomF32Bits(1 << 18, 42));
  const inputBits = bitsOf(input);
  const halves = Uint16Array.from({ length: 65536 }, (_, i) => i);

  for (const path of paths) {
    describe(`${path} path`, () => {
      it('f32 -> bf16 matches the nearest-even oracle on specials, ties and random patterns', () => {
        const got = f32ToBf16(input, { path });
        for (let i = 0; i < input.length; i++) {
          const want = oracleBf16(inputBits[i]);
          if (got[i] !== want) assert.fail(`[${i}] ${hex(inputBits[i])}: got ${hex(got[i], 4)}, want ${hex(want, 4)}`);
        }
      });

      it('f32 -> f16 matches the nearest-even oracle (overflow, subnormals, NaN payloads)', () => {
        const got = f32ToF16(input, { path });
        for (let i = 0; i < input.length; i++) {
          const want = oracleF16(inputBits[i]);
          if (got[i] !== want) assert.fail(`[${i}] ${hex(inputBits[i])}: got ${hex(got[i], 4)}, want ${hex(want, 4)}`);
        }
      });

      it('bf16 -> f32 is exact for all 65536 patterns', () => {
        const got = bitsOf(bf16ToF32(halves, { path }));
        for (let h = 0; h < 65536; h++) assert.equal(got[h], (h << 16) >>> 0, `pattern ${hex(h, 4)}`);
      });

      it('f16 -> f32 is exact for all 65536 patterns (NaN quieted)', () => {
        const got = bitsOf(f16ToF32(halves, { path }));
        for (let h = 0; h < 65536; h++) assert.equal(got[h], oracleF16ToF32(h), `pattern ${hex(h, 4)}`);
      });

      it('16-bit -> f32 -> 16-bit round-trips every non-NaN pattern', () => {
        const bf = f32ToBf16(bf16ToF32(halves, { path }), { path });
        const f16 = f32ToF16(f16ToF32(halves, { path }), { path });
        for (let h = 0; h < 65536; h++) {
          if ((h & 0x7f80) !== 0x7f80 || (h & 0x7f) === 0) assert.equal(bf[h], h, `bf16 ${hex(h, 4)}`);
          if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) assert.equal(f16[h], h, `f16 ${hex(h, 4)}`);
        }
      });
    });
  }

  it('known values: 1.0, ties to even, overflow to Inf, smallest subnormals, signed zero', () => {
    const cases: Array<[number, number, number]> = [
      // f32 bits, bf16, f16
      [0x3f800000, 0x3f80, 0x3c00],
      [0x3f808000, 0x3f80, 0x3c04], // bf16 tie, even stays; exact in f16 (1 + 2^-8)
      [0x3f818000, 0x3f82, 0x3c0c], // bf16 tie, odd rounds up
      [0x7f7fffff, 0x7f80, 0x7c00], // max f32 -> Inf in both
      [0x477fefff, 0x4780, 0x7bff], // just below 65520: max f16
      [0x477ff000, 0x4780, 0x7c00], // 65520 -> Inf
      [0x33800000, 0x3380, 0x0001], // 2^-24: smallest f16 subnormal
      [0x33000000, 0x3300, 0x0000], // 2^-25: tie between 0 and 2^-24 -> 0 (even)
      [0x33400000, 0x3340, 0x0001], // 1.5 * 2^-25 -> 2^-24
      [0x80000000, 0x8000, 0x8000],
      [0x7f800001, 0x7fc0, 0x7e00], // signalling NaN is quieted
    ];
    const src = floatsOf(cases.map((c) => c[0]));
    assert.deepEqual([...f32ToBf16(src)], cases.map((c) => c[1]));
    assert.deepEqual([...f32ToF16(src)], cases.map((c) => c[2]));
  });

  if (paths.includes('avx2')) {
    describe('AVX2 equals scalar bit for bit', () => {
      const lengths = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000003];
      const src32 = floatsOf(randomF32Bits(1000003 + specialF32Bits.length, 7));
      const src16 = randomU16(1000003, 8);
      for (const kind of ['f32_to_bf16', 'f32_to_f16', 'bf16_to_f32', 'f16_to_f32'] as const) {
        it(`${kind} at lengths ${lengths.join(', ')}`, () => {
          for (const n of lengths) {
            const src = kind.startsWith('f32') ? src32.subarray(0, n) : src16.subarray(0, n);
            const mk = () => (kind.startsWith('f32') ? new Uint16Array(n) : new Float32Array(n));
            const a = mk();
            const b = mk();
            native.kernelRow(kind, { src, dst: a }, 'scalar');
            native.kernelRow(kind, { src, dst: b }, 'avx2');
            const view = (x: Uint16Array | Float32Array) => (x instanceof Float32Array ? bitsOf(x) : x);
            const i = firstDifference(view(a), view(b));
            assert.equal(i, -1, `n=${n}: first difference at ${i}`);
          }
        });
      }
    });
  } else {
    it('AVX2 equals scalar (skipped: this CPU has no AVX2/F16C path)', function () {
      this.skip();
    });
  }

  describe('convertAsync', () => {
    const big = floatsOf(randomF32Bits(3_000_017, 9));

    it('equals the synchronous result for every thread count', async () => {
      const want = f32ToBf16(big);
      for (const threads of [1, 2, 3]) {
        const got = await convertAsync('f32_to_bf16', big, { threads });
        assert.equal(firstDifference(got, want), -1, `threads=${threads}`);
      }
      const back = await convertAsync('bf16_to_f32', want);
      assert.equal(firstDifference(bitsOf(back), bitsOf(bf16ToF32(want))), -1);
    });

    it('reports progress in elements, ending at the total before it resolves', async () => {
      const seen: Array<[number, number]> = [];
      await convertAsync('f32_to_f16', big, { threads: 1, onProgress: (d, t) => seen.push([d, t]) });
      assert.ok(seen.length >= 1);
      assert.deepEqual(seen[seen.length - 1], [big.length, big.length]);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0], 'progress is monotonic');
    });

    it('converts empty arrays', async () => {
      assert.equal((await convertAsync('f16_to_f32', new Uint16Array(0))).length, 0);
    });

    it('rejects device cuda with the reason when CUDA is unavailable', async function () {
      const cuda = backendInfo().cuda;
      if (!('unavailable' in cuda)) this.skip();
      await assert.rejects(convertAsync('f32_to_bf16', big, { device: 'cuda' }), /CUDA is not available: /);
    });
  });

  describe('bad input', () => {
    it('refuses wrong array types', () => {
      assert.throws(() => native.kernelRow('f32_to_bf16', { src: new Uint16Array(4), dst: new Uint16Array(4) }), {
        name: 'TypeError',
        message: 'src must be a Float32Array, got Uint16Array',
      });
      assert.throws(() => native.convert({ kind: 'bf16_to_f32', src: new Uint16Array(4), dst: new Uint16Array(4) }), /dst must be a Float32Array/);
      assert.throws(() => native.kernelRow('f32_to_bf16', { src: [1, 2], dst: new Uint16Array(2) }), TypeError);
    });

    it('refuses length mismatches and overlapping buffers', () => {
      assert.throws(() => f32ToBf16(new Float32Array(5), { dst: new Uint16Array(4) }), {
        name: 'RangeError',
        message: 'dst has 4 elements, src has 5',
      });
      const buf = new ArrayBuffer(64);
      assert.throws(() => f32ToBf16(new Float32Array(buf, 0, 8), { dst: new Uint16Array(buf, 16, 8) }), /must not overlap/);
      assert.doesNotThrow(() => f32ToBf16(new Float32Array(buf, 0, 8), { dst: new Uint16Array(buf, 32, 8) }));
    });

    it('refuses unknown kinds, paths and options', async () => {
      assert.throws(() => native.convert({ kind: 'f64_to_bf16' as ConvertKind, src: new Float32Array(1), dst: new Uint16Array(1) }), /unknown conversion kind 'f64_to_bf16'/);
      assert.throws(() => native.kernelRow('f64_to_bf16' as KernelRowName, { src: new Float32Array(1), dst: new Uint16Array(1) }), /no kernel row 'f64_to_bf16'/);
      assert.throws(() => f32ToBf16(new Float32Array(1), { path: 'sse' as KernelPath }), /path must be/);
      await assert.rejects(convertAsync('f32_to_bf16', new Float32Array(1), { threads: -1 }), /threads must be an integer in \[0, 1024\]/);
      await assert.rejects(convertAsync('f32_to_bf16', new Float32Array(1), { threads: 1.5 }), RangeError);
      await assert.rejects(convertAsync('f32_to_bf16', new Float32Array(1), { device: 'tpu' as 'cpu' }), /device must be 'cpu' or 'cuda'/);
    });
  });
});

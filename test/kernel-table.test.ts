// Every row of the CPU kernel table (binding/cpu/runtime/kernels.h), walked by name as llama.cpp's
// test-quantize-fns walks its type table: each row runs on the scalar and on the AVX2 table
// (kernelRow) over generated inputs that reach the edge values (specials, ties, subnormals, zero
// and partial groups, out-of-range codes), and the two must give the same bytes, the same fault
// mask or the same error. The cases are keyed by row name, and the row list the addon reports must
// equal them: a row added without a case fails here.
import { strict as assert } from 'node:assert';
import { backendInfo } from '../lib/index';
import { native, type KernelPath, type KernelRowName } from '../lib/native';
import { Rng } from '../lib/core/random';
import { encodeBlock, LANES, normalise } from './rans-reference';
import { firstDifference, floatsOf, gaussian, randomF32Bits, randomU16 } from './helpers';

const info = backendInfo();
const avx2 = info.cpuFeatures.avx && info.cpuFeatures.avx2 && info.cpuFeatures.fma && info.cpuFeatures.f16c;

/** One call of a row: fresh arguments (outputs zeroed) each time it is made. */
interface Case {
  name: string;
  make(): { args: Record<string, unknown>; outputs: ArrayBufferView[] };
}

type Outcome = { error: string } | { fault: number; outputs: Uint8Array[] };

function run(row: KernelRowName, c: Case, path: KernelPath): Outcome {
  const { args, outputs } = c.make();
  try {
    const fault = native.kernelRow(row, args, path);
    return { fault, outputs: outputs.map((o) => new Uint8Array(o.buffer, o.byteOffset, o.byteLength)) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

const describeOutcome = (o: Outcome) => ('error' in o ? `error '${o.error}'` : `fault ${o.fault}`);

/** Bit for bit: the same error, or the same fault mask and, when no fault, the same output bytes
 * (a decoder's output is unspecified once it found a fault). */
function assertSame(a: Outcome, b: Outcome, where: string): void {
  if ('error' in a || 'error' in b || a.fault !== b.fault) return assert.equal(describeOutcome(b), describeOutcome(a), where);
  if (a.fault) return;
  a.outputs.forEach((x, i) => {
    const at = firstDifference(x, b.outputs[i]);
    assert.equal(at, -1, `${where}: output ${i} differs at byte ${at}`);
  });
}

// ---- generated inputs ----------------------------------------------------------------------

const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 4099];

/** f32 patterns of every class (helpers.ts: specials first, then ties and the f16 range). */
const anyF32 = (n: number, seed: number) => floatsOf(randomF32Bits(n, seed));

/** Finite values up to `limit` in magnitude (the specials' zeros, subnormals and ties kept); the
 * rest Gaussian. For rows whose definition excludes NaN and Inf (callers store such tensors
 * lossless) and whose f16 scales must not overflow. */
function finiteF32(n: number, seed: number, limit: number): Float32Array {
  const g = gaussian(n, seed + 1, 0.02);
  return anyF32(n, seed).map((x, i) => (Number.isFinite(x) && Math.abs(x) <= limit ? x : g[i]));
}

const f16Of = (x: Float32Array) => {
  const h = new Uint16Array(x.length);
  native.kernelRow('f32_to_f16', { src: x, dst: h });
  return h;
};
const bf16Of = (x: Float32Array) => {
  const h = new Uint16Array(x.length);
  native.kernelRow('f32_to_bf16', { src: x, dst: h });
  return h;
};

/** Valid f16 scales (finite, not negative): random bits below 0x7C00, the edges among them. */
function validScales(n: number, seed: number): Uint16Array {
  const edges = [0x0000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff];
  return randomU16(n, seed).map((x, i) => (i < edges.length ? edges[i] : x % 0x7c00));
}

const qmaxOf = (bits: number) => (1 << (bits - 1)) - 1;

/** rtn weights: finite ones that keep every f16 scale finite, an all-zero group, a group of exact
 * multiples of one f16 scale (rounding ties), and a group at the bottom of the f16 range. */
function rtnWeights(n: number, bits: number, group: number, seed: number): Float32Array {
  const w = finiteF32(n, seed, 60000);
  // A group whose max |w| is qmax·s with s a power of two: its scale is s, 1/s is exact, and
  // (q + 0.5)·s scale to exact halves, rounded to even.
  const q = qmaxOf(bits), s = 2 ** -7;
  for (let g = 0; g * group < n; g++) {
    const from = g * group, to = Math.min(n, from + group);
    if (g % 4 === 1) w.fill(0, from, to);
    if (g % 4 === 2) for (let i = from; i < to; i++) w[i] = (i % 2 ? (i % (2 * q)) - q + 0.5 : (i % (2 * q + 1)) - q) * s;
    if (g % 4 === 3) for (let i = from; i < to; i++) w[i] *= 1e-6; // subnormal f16 scales
  }
  return w;
}

// ---- the cases, one list per row ---------------------------------------------------------------

function conversionCases(kind: 'f32_to_bf16' | 'f32_to_f16' | 'bf16_to_f32' | 'f16_to_f32'): Case[] {
  const wide = kind.startsWith('f32');
  const sources: Array<[string, Float32Array | Uint16Array]> = LENGTHS.map((n) => [`n ${n}`, wide ? anyF32(n, n + 1) : randomU16(n, n + 1)]);
  // Every 16-bit pattern once (NaN payloads, subnormals, both infinities).
  if (!wide) sources.push(['every pattern', Uint16Array.from({ length: 65536 }, (_, i) => i)]);
  return sources.map(([name, src]) => ({
    name,
    make() {
      const dst = wide ? new Uint16Array(src.length) : new Float32Array(src.length);
      return { args: { src, dst }, outputs: [dst] };
    },
  }));
}

function rtnCases(encode: boolean): Case[] {
  const cases: Case[] = [];
  for (const bits of [2, 3, 4, 5, 6, 7, 8])
    for (const group of [8, 32, 128])
      for (const n of [1, 7, 8, 9, 33, 1000, 4099]) {
        const seed = bits * 10000 + group * 10 + n;
        const where = `bits ${bits} group ${group} n ${n}`;
        const codeBytes = Math.ceil((n * bits) / 8), groups = Math.ceil(n / group);
        if (encode) {
          const weights = rtnWeights(n, bits, group, seed);
          cases.push({
            name: where,
            make() {
              const codes = new Uint8Array(codeBytes), scales = new Uint16Array(groups);
              return { args: { weights, bits, group, codes, scales }, outputs: [codes, scales] };
            },
          });
          continue;
        }
        // Valid codes (0..2·qmax) with valid scales, then the same with random bytes and scales
        // (codes above 2·qmax, negative and non-finite scales).
        const codes = new Uint8Array(codeBytes), scales = new Uint16Array(groups);
        native.kernelRow('rtn_encode', { weights: gaussian(n, seed, 0.02), bits, group, codes, scales }, 'scalar');
        const valid = { codes, scales: validScales(groups, seed) };
        const r = new Rng(seed);
        const random = { codes: Uint8Array.from(codes, (c) => (r.uniform() < 0.02 ? r.u32() & 255 : c)), scales: randomU16(groups, seed + 7) };
        for (const [kind, input] of [['valid', valid], ['random', random]] as const)
          cases.push({
            name: `${where} ${kind}`,
            make() {
              const out = new Float32Array(n);
              return { args: { out, bits, group, ...input }, outputs: [out] };
            },
          });
      }
  // A group scale beyond f16: both tables refuse it with the same message.
  if (encode)
    cases.push({
      name: 'overflowing scale',
      make: () => ({ args: { weights: Float32Array.of(1e9, 1, 2, 3, 4, 5, 6, 7), bits: 4, group: 8, codes: new Uint8Array(4), scales: new Uint16Array(1) }, outputs: [] }),
    });
  return cases;
}

type TernaryDtype = 'F32' | 'BF16' | 'F16';
const ternaryWeights = (dtype: TernaryDtype, f32: Float32Array) => (dtype === 'F32' ? f32 : dtype === 'BF16' ? bf16Of(f32) : f16Of(f32));

function ternaryCases(encode: boolean): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['F32', 'BF16', 'F16'] as const)
    for (const packing of [3, 2] as const)
      for (const n of [1, 9, 128, 160, 161, 1283]) {
        const seed = n * 7 + packing + dtype.length;
        const per = packing === 3 ? 5 : 4;
        const packedBytes = Math.ceil(n / per);
        // Modes: per-tensor scales (any bit pattern, NaN and Inf included: ternary.h defines
        // their trits), group scales with and without the :opt rounds.
        const modes: Array<{ group: number; tensorScale?: number; rounds: number }> = [
          { group: 1, tensorScale: 0, rounds: 0 },
          { group: 1, tensorScale: Math.fround(0.0137), rounds: 0 },
          { group: 1, tensorScale: Math.fround(777.7), rounds: 0 },
          ...[1, 7, 64, 256, 1000].flatMap((group) => [{ group, rounds: 0 }, { group, rounds: 3 }]),
        ];
        for (const { group, tensorScale, rounds } of modes) {
          const perTensor = tensorScale !== undefined;
          const scaleCount = perTensor ? 0 : Math.ceil(n / group);
          const where = `${dtype} p${packing} n ${n} ${perTensor ? `tensor ${tensorScale}` : `g${group}${rounds ? ' opt' : ''}`}`;
          if (encode) {
            const f32 = perTensor ? anyF32(n, seed) : finiteF32(n, seed, 60000);
            const weights = perTensor && dtype !== 'F32' ? randomU16(n, seed) : ternaryWeights(dtype, f32);
            cases.push({
              name: where,
              make() {
                const packed = new Uint8Array(packedBytes), scales = new Uint16Array(scaleCount);
                return { args: { weights, dtype, group, packing, tensorScale, rounds, packed, scales }, outputs: [packed, scales] };
              },
            });
            continue;
          }
          if (rounds) continue; // decoding has no rounds
          const packed = new Uint8Array(packedBytes), scales = new Uint16Array(scaleCount);
          native.kernelRow('ternary_encode', { weights: gaussian(n, seed, 0.02), dtype: 'F32', group, packing, tensorScale, packed, scales }, 'scalar');
          const valid = { packed, scales: validScales(scaleCount, seed) };
          const random = { packed: Uint8Array.from(randomU16(packedBytes, seed + 3), (x) => x & 255), scales: randomU16(scaleCount, seed + 5) };
          for (const [kind, input] of [['valid', valid], ['random', random]] as const)
            cases.push({
              name: `${where} ${kind}`,
              make() {
                const out = dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n);
                return { args: { out, dtype, group, packing, tensorScale, ...input }, outputs: [out] };
              },
            });
        }
      }
  if (encode)
    cases.push({
      name: 'a group scale beyond f16',
      make: () => ({ args: { weights: new Float32Array(8).fill(1e6), dtype: 'F32', group: 8, packing: 3, packed: new Uint8Array(2), scales: new Uint16Array(1) }, outputs: [] }),
    });
  return cases;
}

function seedlmCases(): Case[] {
  const cases: Case[] = [];
  for (const [C, P] of [[8, 3], [12, 4]])
    for (const keep of [0, 8]) {
      // Six blocks and a padded tail: Gaussian, all zero, near the bottom of the exponent range,
      // an outlier, subnormals and signed zeros.
      const w = gaussian(6 * C + 3, C * 10 + keep, 0.02);
      w.fill(0, C, 2 * C);
      for (let i = 2 * C; i < 3 * C; i++) w[i] *= 1e-4;
      w[3 * C] = 0.5;
      for (let i = 4 * C; i < 5 * C; i++) w[i] = floatsOf([i % 2 ? 0x00000001 : 0x807fffff])[0];
      w[5 * C] = -0;
      const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
      const blocks = Math.ceil(w.length / C);
      cases.push({
        name: `C ${C} P ${P} keep ${keep}`,
        make() {
          const seeds = new Uint16Array(blocks), fields = new Uint8Array(blocks * (P + 1));
          return { args: { weights: w, C, P, eMin, keep, seeds, fields }, outputs: [seeds, fields] };
        },
      });
    }
  return cases;
}

function kmeansCases(): Case[] {
  const cases: Case[] = [];
  for (const v of [1, 2, 3, 4, 6, 8, 12, 16])
    for (const k of [1, 7, 300]) {
      const n = v * 31 + k;
      const points = gaussian(n * v, v * 1000 + k);
      const centroids = gaussian(k * v, v * 7000 + k);
      // Edge points: zero, subnormal, large; a centroid repeated (ties go to the smaller index).
      points.fill(0, 0, v);
      points.fill(floatsOf([0x00000001])[0], v, 2 * v);
      points.fill(1e15, 2 * v, 3 * v);
      if (k > 1) centroids.copyWithin((k - 1) * v, 0, v);
      cases.push({
        name: `v ${v} k ${k} n ${n}`,
        make() {
          const labels = new Uint32Array(n);
          return { args: { points, v, centroids, labels }, outputs: [labels] };
        },
      });
    }
  return cases;
}

function gemmCases(): Case[] {
  const cases: Case[] = [];
  for (const [rows, k, cols] of [[1, 1, 1], [7, 5, 17], [13, 300, 33], [6, 257, 16], [150, 40, 9]])
    for (const withBias of [false, true]) {
      const x = gaussian(rows * k, rows + k), w = gaussian(cols * k, cols * 3 + k), bias = withBias ? gaussian(cols, 5) : undefined;
      x.fill(0, 0, Math.min(k, x.length)); // a zero row
      cases.push({
        name: `${rows}x${k}x${cols}${withBias ? ' bias' : ''}`,
        make() {
          const y = new Float32Array(rows * cols);
          return { args: { x, rows, w, cols, bias, y }, outputs: [y] };
        },
      });
    }
  return cases;
}

/** The rANS block coder's inputs: byte distributions from two symbols to all 256, lengths around
 * the 32 lanes and 8-lane groups and long enough for the vector paths, 1 to 8 contexts. */
function ransInputs(): Array<{ what: string; n: number; contexts: number; src: Uint8Array; freqs: number[][] }> {
  const rng = new Rng(21);
  const sources: Array<[string, (n: number) => Uint8Array]> = [
    ['two symbols', (n) => Uint8Array.from({ length: n }, () => (rng.uniform() < 0.97 ? 3 : 250))],
    ['exponent-like', (n) => Uint8Array.from({ length: n }, () => 118 + Math.min(15, Math.floor(-Math.log2(rng.uniform() + 1e-9))))],
    ['all 256', (n) => Uint8Array.from({ length: n }, (_, i) => (i < 256 ? i : rng.u32() & 0xff))],
  ];
  return sources.flatMap(([what, make]) =>
    [...LENGTHS.map((n) => [n, 1]), [20000, 1], [37, 2], [20000, 2], [4099, 8]].map(([n, contexts]) => {
      const src = make(n);
      const counts = Array.from({ length: contexts }, () => new Array<number>(256).fill(0));
      src.forEach((b, i) => counts[i % contexts][b]++);
      return { what, n, contexts, src, freqs: counts.map((c) => normalise(c)) };
    }),
  );
}

/** rANS blocks made by the reference encoder (rans-reference.ts), and corrupted copies (a flipped
 * word, a flipped state, a word short, a word over). */
function ransDecodeCases(): Case[] {
  const cases: Case[] = [];
  for (const { what, n, contexts, src, freqs } of ransInputs()) {
      const freq = Uint16Array.from(freqs.flat());
      const block = encodeBlock(freqs, src);
      const variants: Array<[string, Uint8Array]> = [['', block]];
      // Corrupted copies of the longer blocks only, so that most cases compare decoded bytes.
      if (n >= 33 && block.length > 4 * LANES) {
        const flipped = Uint8Array.from(block);
        flipped[block.length - 3] ^= 0x10;
        variants.push([' word flipped', flipped], [' a word short', block.subarray(0, block.length - 2)]);
      }
      if (n >= 33) {
        const state = Uint8Array.from(block);
        state[5] ^= 0x01;
        variants.push([' state flipped', state], [' a word over', Buffer.concat([block, Uint8Array.of(1, 2)])]);
      }
      for (const [how, b] of variants)
        cases.push({
          name: `${what} n ${n}${contexts > 1 ? ` ${contexts} contexts` : ''}${how}`,
          make() {
            const out = new Uint8Array(n);
            return { args: { block: b, freq, out }, outputs: [out] };
          },
        });
  }
  return cases;
}

function ransEncodeCases(): Case[] {
  return ransInputs().map(({ what, n, contexts, src, freqs }) => ({
    name: `${what} n ${n}${contexts > 1 ? ` ${contexts} contexts` : ''}`,
    make() {
      const states = new Uint32Array(LANES), words = new Uint16Array(n + 8);
      return { args: { symbols: src, freq: Uint16Array.from(freqs.flat()), states, words }, outputs: [states, words] };
    },
  }));
}

/** Windows of every length class, each dtype: every bit pattern (NaN, Inf, subnormals) in one
 * case, finite Gaussian values (sums that round) in another. */
function statsCases(withRecon: boolean): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['F32', 'BF16', 'F16'] as const)
    for (const n of [...LENGTHS, 1 << 16])
      for (const kind of ['patterns', 'gaussian'] as const) {
        const values = (seed: number) => {
          if (dtype === 'F32') return kind === 'patterns' ? anyF32(n, seed) : gaussian(n, seed, 0.02);
          return kind === 'patterns' ? randomU16(n, seed) : Uint16Array.from(randomU16(n, seed), (h) => h & 0xbfff); // exponents below Inf
        };
        const weights = values(n + 1), reconstructed = values(n + 2);
        cases.push({
          name: `${dtype} ${kind} n ${n}`,
          make() {
            const out = new Float64Array(withRecon ? 5 : 3);
            return { args: { weights, ...(withRecon ? { reconstructed } : {}), dtype, out }, outputs: [out] };
          },
        });
      }
  return cases;
}

/** Blocks of every size the rotation takes, rotated both ways, over finite values of every class
 * (a rotated weight stays finite: callers rotate finite weights only). */
function hadamardCases(): Case[] {
  const cases: Case[] = [];
  for (const block of [2, 4, 8, 16, 32, 256, 4096])
    for (const blocks of [1, 3])
      for (const inverse of [false, true]) {
        const n = block * blocks;
        const x = finiteF32(n, block + blocks, 1e30);
        const scale = Math.fround(1 / Math.sqrt(block));
        const m = Float32Array.from(randomU16(n, block), (r) => (r & 1 ? -scale : scale));
        cases.push({
          name: `block ${block} × ${blocks}${inverse ? ' inverse' : ''}`,
          make() {
            const out = x.slice();
            return { args: { x: out, block, m, inverse }, outputs: [out] };
          },
        });
      }
  return cases;
}

/** Every width, both directions' layouts (planes back to back or apart), lengths around the
 * AVX2 loop's 32 elements. */
function planeCases(split: boolean): Case[] {
  const cases: Case[] = [];
  for (const width of [1, 2, 4, 8])
    for (const n of [0, 1, 31, 32, 33, 1000])
      for (const rotate of [false, true])
        for (const apart of [false, true]) {
          const elements = Uint8Array.from(randomU16(width * n, width * 1000 + n), (v) => v & 0xff);
          cases.push({
            name: `width ${width}, ${n} elements${rotate ? ', rotated' : ''}${apart ? ', planes apart' : ''}`,
            make() {
              const planes = apart ? Array.from({ length: width }, () => new Uint8Array(n)) : [new Uint8Array(width * n)];
              const planeArg = apart ? planes : planes[0];
              if (split) return { args: { src: elements, width, rotate, dst: planeArg }, outputs: planes };
              // Merge what the split of the same elements gives (any bytes would do; these also check the pair).
              native.kernelRow('split_planes', { src: elements, width, rotate, dst: planeArg }, 'scalar');
              const dst = new Uint8Array(width * n);
              return { args: { src: planeArg, width, rotate, dst }, outputs: [dst] };
            },
          });
        }
  return cases;
}

const CASES: Record<KernelRowName, () => Case[]> = {
  f32_to_bf16: () => conversionCases('f32_to_bf16'),
  bf16_to_f32: () => conversionCases('bf16_to_f32'),
  f32_to_f16: () => conversionCases('f32_to_f16'),
  f16_to_f32: () => conversionCases('f16_to_f32'),
  rtn_encode: () => rtnCases(true),
  rtn_decode: () => rtnCases(false),
  ternary_encode: () => ternaryCases(true),
  ternary_decode: () => ternaryCases(false),
  seedlm_search: seedlmCases,
  kmeans_assign: kmeansCases,
  gemm_panels: gemmCases,
  rans_decode_block: ransDecodeCases,
  rans_encode_block: ransEncodeCases,
  error_window: () => statsCases(true),
  stats_window: () => statsCases(false),
  hadamard_blocks: hadamardCases,
  split_planes: () => planeCases(true),
  merge_planes: () => planeCases(false),
};

/** gemm_panels is the one row whose AVX2 variant is not the scalar one operation for operation:
 * it fuses multiply-adds and sums k in blocks of 256. Its products feed the forward pass (eval,
 * imatrix), never a container, so the rows must agree to within float rounding of Σ|x·w|. */
function assertGemmClose(a: Outcome, b: Outcome, c: Case, where: string): void {
  assert.ok(!('error' in a) && !('error' in b), where);
  const { args } = c.make();
  const { x, w, rows, cols, bias } = args as { x: Float32Array; w: Float32Array; rows: number; cols: number; bias?: Float32Array };
  const k = x.length / rows;
  const ya = new Float32Array(a.outputs[0].buffer), yb = new Float32Array(b.outputs[0].buffer);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      let magnitude = bias ? Math.abs(bias[j]) : 0;
      for (let i = 0; i < k; i++) magnitude += Math.abs(x[r * k + i] * w[j * k + i]);
      const at = r * cols + j;
      assert.ok(Math.abs(ya[at] - yb[at]) <= 2 * (k + 1) * 2 ** -24 * magnitude, `${where} [${r},${j}]: ${ya[at]} vs ${yb[at]}`);
    }
}

describe('kernel table: every row, scalar = AVX2', function () {
  this.timeout(120000);

  it('the addon\'s rows are exactly the rows this test has cases for', () => {
    assert.deepEqual([...native.backendInfo().kernelRows].sort(), Object.keys(CASES).sort());
  });

  for (const row of Object.keys(CASES) as KernelRowName[]) {
    it(`${row}: the scalar row runs every case, the same way twice, reaching its edges`, () => {
      const cases = CASES[row]();
      assert.ok(cases.length > 0);
      let ran = 0;
      for (const c of cases) {
        const a = run(row, c, 'scalar');
        assertSame(a, run(row, c, 'scalar'), `${row} ${c.name}`);
        if (!('error' in a) && !a.fault) ran++;
      }
      // The cases reach outputs, not only errors and faults (so the comparison below compares bytes).
      assert.ok(ran >= cases.length / 3, `${row}: ${ran} of ${cases.length} cases ran cleanly`);
    });

    if (!avx2) {
      it.skip(`${row}: AVX2 equals scalar (skipped: this CPU lacks the AVX2 path: ${info.cpuReason})`, () => undefined);
      continue;
    }
    it(`${row}: AVX2 equals scalar${row === 'gemm_panels' ? ' within rounding (FMA, k blocks)' : ' bit for bit'}`, () => {
      for (const c of CASES[row]()) {
        const a = run(row, c, 'scalar'), b = run(row, c, 'avx2');
        if (row === 'gemm_panels') assertGemmClose(a, b, c, `${row} ${c.name}`);
        else assertSame(a, b, `${row} ${c.name}`);
      }
    });
  }

  it('the fault masks are the decoders\' (1: a code no encoder writes, 2: a bad scale)', () => {
    const out = new Float32Array(8);
    const rtn = (codes: Uint8Array, scales: Uint16Array) => native.kernelRow('rtn_decode', { out, bits: 4, group: 8, codes, scales }, 'scalar');
    assert.equal(rtn(new Uint8Array(4).fill(0xee), Uint16Array.of(0x3c00)), 0);
    assert.equal(rtn(new Uint8Array(4).fill(0xff), Uint16Array.of(0x3c00)), 1);
    assert.equal(rtn(new Uint8Array(4), Uint16Array.of(0x7c00)), 2);
    assert.equal(rtn(new Uint8Array(4).fill(0xff), Uint16Array.of(0xbc00)), 3);
  });
});

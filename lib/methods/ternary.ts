// ternary (docs/METHODS.md, "ternary"): BitNet b1.58 absmean ternarization. Scales per group of N
// weights (default 256), per row, or one per tensor; trits packed base-3 (5 per byte, 1.6 bits) or
// 2-bit. Kernels: binding/cpu/quant/ternary_{scalar,avx2}.cc and binding/cuda/ternary.cu (where each
// runs: binding/backend_table.cc).
import { elementImportance } from './importance';
import { ENCODED_DTYPES } from '../io/dtypes';
import { runJob } from '../jobs';
import { native } from '../native';
import { bytesOf, f32View, floatOutput, floatDtype, floatView, u16View } from './f32';
import { F16_MAX, F16_VALUES, chunkElements, type Method } from './method';
import { SpecError } from '../core/errors';

export interface TernaryParams {
  /** 'group': one f16 absmean per `group` weights; 'row': one per row (resolved to a group per
   * tensor); 'tensor': one f32 absmean for the whole tensor. */
  scale: 'group' | 'row' | 'tensor';
  group: number;
  packing: 2 | 3;
  /** :opt: refine each group scale (least squares for its trits, then new trits), same bits. */
  opt: boolean;
}

/** Refinement rounds of :opt (binding/cpu/quant/ternary.h ternary_refine). */
export const OPT_ROUNDS = 3;

const perByte = (p: TernaryParams) => (p.packing === 3 ? 5 : 4);
/** Codes per 32-byte packing block (binding/cpu/quant/ternary.h). */
const block = (p: TernaryParams) => 32 * perByte(p);
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const packedBytes = (n: number, p: TernaryParams) => Math.ceil(n / perByte(p));
const scaleBytes = (n: number, p: TernaryParams) => (p.scale === 'tensor' ? 4 : 2 * Math.ceil(n / p.group));

export const ternary: Method<TernaryParams> = {
  name: 'ternary',
  lossy: true,
  // Plain ternary keeps BitNet's absmean; :opt chooses among refined scales by the weighted error.
  usesImportance: (p) => p.opt && p.scale !== 'tensor',
  parse(args) {
    const p: TernaryParams = { scale: 'group', group: 256, packing: 3, opt: false };
    const seen = new Set<string>();
    for (const a of args) {
      const kind = /^(tensor|row|g[0-9]+)$/.test(a) ? 'scale' : /^p[23]$/.test(a) ? 'packing' : a === 'opt' ? 'opt' : undefined;
      if (!kind) throw new SpecError(`ternary: unknown option '${a}' (use tensor, row or g<N> for scales; p3 or p2 for packing; opt)`);
      if (seen.has(kind)) throw new SpecError(`ternary: '${a}' repeats the ${kind} option`);
      seen.add(kind);
      if (kind === 'packing') p.packing = a === 'p3' ? 3 : 2;
      else if (kind === 'opt') p.opt = true;
      else if (a === 'tensor' || a === 'row') p.scale = a;
      else {
        p.group = Number(a.slice(1));
        if (p.group < 1 || p.group > 2 ** 30) throw new SpecError(`ternary: group must be from 1 to 2^30 (got '${a}')`);
      }
    }
    if (p.opt && p.scale === 'tensor') throw new SpecError('ternary: opt refines group or row scales, not a per-tensor scale');
    return p;
  },
  format: (p) => `ternary:${p.scale === 'group' ? `g${p.group}` : p.scale}:p${p.packing}${p.opt ? ':opt' : ''}`,
  resolve: (p, shape) => (p.scale === 'row' ? { ...p, scale: 'group', group: Math.max(1, shape.length ? shape[shape.length - 1] : 1) } : p),
  unsupported: (_p, dtype) => (ENCODED_DTYPES.includes(dtype) ? undefined : `ternary encodes F32/F16/BF16, not ${dtype}`),
  // A group scale is a mean of |w| (refined: of some |w|) in f16, so weights up to F16_MAX keep
  // it finite whatever the f32 rounding of the sum; the f32 tensor scale has no such limit.
  unrepresentable: (p, absMax) =>
    p.scale !== 'tensor' && absMax > F16_MAX ? `its f16 group scales hold |w| up to ${F16_MAX} (ternary:tensor has an f32 scale)` : undefined,
  // Chunks hold whole groups and start on a packing block.
  chunkUnit: (p) => (p.scale === 'tensor' ? block(p) : (p.group / gcd(p.group, block(p))) * block(p)),
  streamNames: () => ['codes', 'scales'],
  symbolModel: (_p, _dtype, stream) => (stream === 'scales' ? F16_VALUES : undefined),
  rawStreamBytes: (p, _dtype, elements) => [packedBytes(elements, p), scaleBytes(elements, p)],
  nominalBits(p, _dtype, numel) {
    if (!numel) return 0;
    // Per-tensor mode repeats its 4-byte scale in every chunk (chunks decode independently).
    const chunk = chunkElements(this.chunkUnit(p));
    const scales = p.scale === 'tensor' ? 32 * Math.ceil(numel / chunk) : 16 * Math.ceil(numel / p.group);
    return (8 * packedBytes(numel, p) + scales) / numel;
  },
  async encode(p, dtype, raw, { threads, device, signal }, chunk) {
    // The kernels read F32/BF16/F16 bits directly and write the reconstruction in the same dtype.
    const w = floatView(dtype, raw);
    const packed = new Uint8Array(packedBytes(w.length, p));
    const perTensor = p.scale === 'tensor';
    const scales = new Uint16Array(perTensor ? 0 : Math.ceil(w.length / p.group));
    const gamma = perTensor ? Math.fround(chunk.absMean) : -1;
    const rounds = p.opt ? OPT_ROUNDS : 0;
    const t = floatDtype(dtype);
    // With --importance, :opt keeps whichever refined scale leaves the lower importance-weighted
    // error; plain ternary keeps BitNet's absmean.
    const importance = p.opt && !perTensor && chunk.importance ? elementImportance(chunk.importance, chunk.first, w.length) : undefined;
    const layout = { dtype: t, group: p.group, packing: p.packing, tensorScale: gamma, packed, scales, threads, device };
    const sums = await runJob((progress) => native.ternaryEncode({ ...layout, weights: w, rounds, importance, measure: true }, progress), { signal });
    return { streams: [packed, perTensor ? bytesOf(Float32Array.of(gamma)) : bytesOf(scales)], sums };
  },
  async decode(p, dtype, [packed, scaleBytes], elements, { threads, device, signal, buffers }) {
    const perTensor = p.scale === 'tensor';
    const gamma = perTensor ? f32View(scaleBytes)[0] : -1;
    // As the kernels refuse a group scale: -0 too, which no encoder writes (it would flip zeros' signs).
    if (perTensor && (!(gamma >= 0 && Number.isFinite(gamma)) || Object.is(gamma, -0)))
      throw new Error(`ternary: the stored tensor scale ${Object.is(gamma, -0) ? '-0' : gamma} is negative or non-finite`);
    const out = floatOutput(dtype, elements, buffers);
    const scales = perTensor ? new Uint16Array(0) : u16View(scaleBytes);
    await runJob((progress) => native.ternaryDecode({ out, dtype: floatDtype(dtype), group: p.group, packing: p.packing, tensorScale: gamma, packed, scales, threads, device }, progress), { signal });
    return bytesOf(out);
  },
};

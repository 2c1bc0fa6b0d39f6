// vptq (docs/METHODS.md, "vptq"; VPTQ): vectors of v consecutive output-channel values of one
// input column, each replaced by the index of its nearest centroid in a per-tensor f16 codebook of
// k entries (trained by k-means on the tensor itself), optionally plus the index of a residual
// codebook of k2 entries, optionally after per-column normalisation, optionally weighted by
// per-column importance. Kernels: binding/cpu/quant/kmeans*.cc (training, assignment) and
// binding/cpu/quant/vptq.cc, and for the Lloyd iterations and assignments binding/cuda/kmeans.cu (where
// each runs: binding/backend_table.cc).
//
// Specs: presets vptq:2, vptq:3, vptq:4 and vptq:2:large (table in docs/METHODS.md), whose k is
// lowered for small tensors, or the full form vptq:v<v>:k<k>[:r<k2>][:norm][:i<iterations>], taken
// literally. Canonical (and recorded) form: vptq:v<v>:k<k>[:r<k2>][:norm]:i<iterations>.
import { ENCODED_DTYPES, numelOf } from '../io/dtypes';
import { columnsOf } from './importance';
import { runJob } from '../jobs';
import { native } from '../native';
import { Rng } from '../core/random';
import type { Dtype } from '../io/dtypes';
import { chunkErrorSums, fromF32, toF32 } from './f32';
import { F16_MAX, F16_VALUES, chunkElements, packedBytes, type Method, type TensorInput } from './method';
import { type JobContext } from '../jobs';
import { SpecError } from '../core/errors';

export interface VptqParams {
  /** Vector length (output channels per vector). */
  v: number;
  /** Codebook entries, a power of two 2^8..2^16. */
  k: number;
  /** Residual codebook entries (a power of two 2^1..2^16), or 0 for none. */
  k2: number;
  /** Per-column normalisation (f16 scale and bias per input column). */
  norm: boolean;
  /** k-means iteration cap. */
  iterations: number;
  /** A preset: k may be lowered for small tensors when resolved (never recorded). */
  preset?: string;
  /** Columns of the tensor's 2-D view, once resolved for a shape. */
  columns?: number;
}

export const VPTQ_PRESETS: Record<string, Omit<VptqParams, 'preset' | 'columns'>> = {
  '2': { v: 6, k: 4096, k2: 0, norm: false, iterations: 10 },
  '3': { v: 4, k: 4096, k2: 0, norm: false, iterations: 10 },
  '4': { v: 3, k: 4096, k2: 0, norm: false, iterations: 10 },
  '2:large': { v: 8, k: 65536, k2: 0, norm: false, iterations: 10 },
};

/** Training vectors per centroid when a tensor has more (a deterministic subsample). */
export const SAMPLE_PER_CENTROID = 256;
/** Presets keep at least this many vectors per centroid, lowering k (not below MIN_K). */
const PRESET_VECTORS_PER_CENTROID = 32;
const MIN_K = 256;
/** Lloyd stops when the objective falls by less than this fraction in an iteration. */
const TOLERANCE = 1e-4;
/** k-means++ initialisation runs on at most this many training vectors per centroid. */
export const INIT_PER_CENTROID = 16;
const SEED = 1;

/** prepare()'s view of the tensor. */
type Input = TensorInput & { dtype: Dtype };

const log2 = (k: number) => Math.round(Math.log2(k));
const isPow2 = (k: number) => Number.isInteger(k) && k >= 1 && (k & (k - 1)) === 0;
const rowsOf = (shape: number[]) => (shape.length ? shape[0] : 1);
/** Vectors of `rows` rows. */
const vectorsOf = (p: VptqParams, rows: number) => Math.ceil(rows / p.v) * columns(p);

function columns(p: VptqParams): number {
  if (!p.columns) throw new Error(`vptq: parameters not resolved for a tensor shape`);
  return p.columns;
}

function parseFull(args: string[]): VptqParams {
  const p: Partial<VptqParams> = { k2: 0, norm: false, iterations: 10 };
  const seen = new Set<string>();
  for (const a of args) {
    const m = /^([vkri])([0-9]+)$/.exec(a);
    const kind = a === 'norm' ? 'norm' : m?.[1];
    if (!kind) throw new SpecError(`vptq: unknown option '${a}' (use v<N>, k<N>, r<N>, norm, i<N>, or a preset: ${Object.keys(VPTQ_PRESETS).join(', ')})`);
    if (seen.has(kind)) throw new SpecError(`vptq: '${a}' repeats an option`);
    seen.add(kind);
    const n = m ? Number(m[2]) : 0;
    if (kind === 'v') {
      if (n < 1 || n > 16) throw new SpecError(`vptq: v must be from 1 to 16 (got '${a}')`);
      p.v = n;
    } else if (kind === 'k') {
      if (!isPow2(n) || n < 256 || n > 65536) throw new SpecError(`vptq: k must be a power of two from 256 to 65536 (got '${a}')`);
      p.k = n;
    } else if (kind === 'r') {
      if (!isPow2(n) || n < 2 || n > 65536) throw new SpecError(`vptq: the residual codebook r must be a power of two from 2 to 65536 (got '${a}')`);
      p.k2 = n;
    } else if (kind === 'i') {
      if (n < 1 || n > 1000) throw new SpecError(`vptq: iterations must be from 1 to 1000 (got '${a}')`);
      p.iterations = n;
    } else p.norm = true;
  }
  if (p.v === undefined || p.k === undefined) throw new SpecError('vptq: the full form needs v<N> and k<N>, e.g. vptq:v8:k4096:r256');
  return p as VptqParams;
}

/** The resolved k of a preset for a tensor of `vectors` vectors. */
function presetK(k: number, vectors: number): number {
  let out = k;
  while (out > MIN_K && vectors < PRESET_VECTORS_PER_CENTROID * out) out /= 2;
  return out;
}

// ---- tensor streams: codebook [, codebook2] [, scale, bias], all f16 -------------------------------

interface Tables {
  c1: Float32Array;
  c2: Float32Array | null;
  scale: Float32Array | null;
  bias: Float32Array | null;
}

const f16 = (values: Float32Array) => fromF32('F16', values);
const fromF16 = (bytes: Uint8Array) => toF32('F16', bytes);
/** Values rounded to f16 (what the decoder will see). */
const roundF16 = (values: Float32Array) => fromF16(f16(values));

const tablesCache = new WeakMap<Uint8Array[], Tables>();

function tables(p: VptqParams, streams: Uint8Array[]): Tables {
  let t = tablesCache.get(streams);
  if (!t) {
    let i = 0;
    const c1 = fromF16(streams[i++]);
    const c2 = p.k2 ? fromF16(streams[i++]) : null;
    const scale = p.norm ? fromF16(streams[i++]) : null;
    const bias = p.norm ? fromF16(streams[i++]) : null;
    for (const [what, a] of [['codebook', c1], ['residual codebook', c2], ['scale', scale], ['bias', bias]] as const)
      if (a && a.some((x) => !Number.isFinite(x))) throw new Error(`vptq: the stored ${what} holds a non-finite value`);
    t = { c1, c2, scale, bias };
    tablesCache.set(streams, t);
  }
  return t;
}

/** Per-column scale (standard deviation) and bias (mean), rounded to f16; a scale that rounds to
 * 0 or overflows becomes 1. One pass over the tensor. */
async function columnStats(p: VptqParams, input: Input, step: number, numel: number): Promise<{ scale: Float32Array; bias: Float32Array }> {
  const cols = columns(p);
  const sum = new Float64Array(cols), sq = new Float64Array(cols);
  for (let e = 0; e < numel; e += step) {
    const w = toF32(input.dtype, await input.read(e, Math.min(step, numel - e)));
    for (let i = 0; i < w.length; i++) {
      const j = i % cols;
      sum[j] += w[i];
      sq[j] += w[i] * w[i];
    }
  }
  const rows = numel / cols;
  const mean = new Float32Array(cols), std = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    mean[j] = sum[j] / rows;
    std[j] = Math.sqrt(Math.max(0, sq[j] / rows - (sum[j] / rows) ** 2));
  }
  const scale = roundF16(std).map((s) => (s > 0 && Number.isFinite(s) ? s : 1));
  return { scale, bias: roundF16(mean) };
}

/** A deterministic subsample of the tensor's vectors (selection sampling, in vector order) and
 * their weights: importance of the column, times scale² under normalisation (so the weighted
 * objective is the error of the decoded weights), or null when every weight would be 1. */
async function trainingSet(p: VptqParams, input: Input, step: number, numel: number, scale: Float32Array | null, bias: Float32Array | null) {
  const cols = columns(p);
  const total = vectorsOf(p, numel / cols);
  const want = Math.min(total, SAMPLE_PER_CENTROID * p.k);
  const x = new Float32Array(want * p.v);
  const weighted = !!(input.importance || scale);
  const w = weighted ? new Float32Array(want) : null;
  const rng = new Rng(SEED);
  let seen = 0, taken = 0;
  for (let e = 0; e < numel && taken < want; e += step) {
    const chunk = toF32(input.dtype, await input.read(e, Math.min(step, numel - e)));
    const vectors = native.vptqGather({ weights: chunk, cols, v: p.v, scale: scale ?? undefined, bias: bias ?? undefined });
    for (let i = 0; i < vectors.length / p.v && taken < want; i++, seen++) {
      if (want < total && rng.uniform() * (total - seen) >= want - taken) continue;
      x.set(vectors.subarray(i * p.v, (i + 1) * p.v), taken * p.v);
      if (w) {
        const j = i % cols;
        w[taken] = (input.importance ? input.importance[j] : 1) * (scale ? scale[j] * scale[j] : 1);
      }
      taken++;
    }
  }
  return { x, w };
}

async function train(points: Float32Array, v: number, k: number, weights: Float32Array | null, iterations: number, ctx: JobContext): Promise<Float32Array> {
  const { threads, device, signal } = ctx;
  const args = { points, v, k, weights: weights ?? undefined, iterations, tolerance: TOLERANCE, seed: SEED, initSample: INIT_PER_CENTROID * k, threads, device };
  const { centroids } = await runJob((progress) => native.kmeansTrain(args, progress), { signal });
  return roundF16(centroids);
}

export const vptq: Method<VptqParams> = {
  name: 'vptq',
  lossy: true,
  usesImportance: () => true,
  parse(args) {
    const preset = args.join(':');
    if (Object.hasOwn(VPTQ_PRESETS, preset)) return { ...VPTQ_PRESETS[preset], preset };
    if (args.length === 0 || /^[0-9]/.test(args[0]))
      throw new SpecError(`vptq: unknown preset '${preset}' (presets: ${Object.keys(VPTQ_PRESETS).map((k) => `vptq:${k}`).join(', ')}; or vptq:v<N>:k<N>[:r<N>][:norm][:i<N>])`);
    return parseFull(args);
  },
  format: (p) => (p.preset ? `vptq:${p.preset}` : `vptq:v${p.v}:k${p.k}${p.k2 ? `:r${p.k2}` : ''}${p.norm ? ':norm' : ''}:i${p.iterations}`),
  resolve(p, shape) {
    const r: VptqParams = { ...p, columns: columnsOf(shape), preset: undefined };
    if (p.preset) r.k = presetK(p.k, vectorsOf(r, rowsOf(shape)));
    return r;
  },
  unsupported(p, dtype, shape) {
    if (!ENCODED_DTYPES.includes(dtype)) return `vptq encodes F32/F16/BF16, not ${dtype}`;
    const r = this.resolve!(p, shape);
    const vectors = vectorsOf(r, rowsOf(shape));
    if (vectors < r.k) return `vptq: ${vectors} vectors of ${r.v} are too few for ${r.k} centroids`;
    return undefined;
  },
  // Centroids are means of weights, stored in f16: weights up to F16_MAX keep every one finite.
  // With :norm the column mean is an f16 too (and larger weights often still fit once
  // normalised, but not always): the same rule.
  unrepresentable: (_p, absMax) => (absMax > F16_MAX ? `its f16 codebook holds values up to ${F16_MAX}` : undefined),
  // Whole row blocks of v rows: every vector lies inside one chunk.
  chunkUnit: (p) => p.v * columns(p),
  streamNames: (p) => (p.k2 ? ['indices', 'residual'] : ['indices']),
  rawStreamBytes(p, _dtype, elements) {
    const n = vectorsOf(p, elements / columns(p));
    return p.k2 ? [packedBytes(n, log2(p.k)), packedBytes(n, log2(p.k2))] : [packedBytes(n, log2(p.k))];
  },
  // Indices of fewer than 8 bits (a residual codebook) as codes; the codebooks, scale and bias are f16.
  symbolModel(p, _dtype, stream) {
    if (stream !== 'indices' && stream !== 'residual') return F16_VALUES;
    const bits = log2(stream === 'indices' ? p.k : p.k2);
    return bits < 8 && 8 % bits ? { bits } : bits === 16 ? { contexts: 2 } : undefined;
  },
  tensorStreamNames: (p) => ['codebook', ...(p.k2 ? ['codebook2'] : []), ...(p.norm ? ['scale', 'bias'] : [])],
  rawTensorStreamBytes: (p) => [2 * p.k * p.v, ...(p.k2 ? [2 * p.k2 * p.v] : []), ...(p.norm ? [2 * columns(p), 2 * columns(p)] : [])],
  nominalBits(p, dtype, numel) {
    if (!numel) return 0;
    const step = chunkElements(this.chunkUnit(p));
    let bytes = this.rawTensorStreamBytes!(p, dtype, []).reduce((a, b) => a + b, 0);
    for (let e = 0; e < numel; e += step) bytes += this.rawStreamBytes(p, dtype, Math.min(step, numel - e)).reduce((a, b) => a + b, 0);
    return (8 * bytes) / numel;
  },
  async prepare(p, dtype, input, ctx) {
    const step = chunkElements(this.chunkUnit(p));
    const numel = numelOf(input.facts.shape);
    const read: Input = { ...input, dtype };
    const norm = p.norm ? await columnStats(p, read, step, numel) : null;
    const { x, w } = await trainingSet(p, read, step, numel, norm?.scale ?? null, norm?.bias ?? null);
    const c1 = await train(x, p.v, p.k, w, p.iterations, ctx);
    const streams = [f16(c1)];
    if (p.k2) {
      // The residual codebook is trained on what the f16 codebook leaves of the same vectors.
      const labels = new Uint32Array(x.length / p.v);
      await runJob((progress) => native.kmeansAssign({ points: x, v: p.v, centroids: c1, labels, threads: ctx.threads, device: ctx.device }, progress), { signal: ctx.signal });
      for (let i = 0; i < labels.length; i++) for (let t = 0; t < p.v; t++) x[i * p.v + t] -= c1[labels[i] * p.v + t];
      streams.push(f16(await train(x, p.v, p.k2, w, p.iterations, ctx)));
    }
    if (norm) streams.push(f16(norm.scale), f16(norm.bias));
    return streams;
  },
  async encode(p, dtype, raw, ctx, facts) {
    const { threads, device, signal, onProgress } = ctx;
    const t = tables(p, facts.tensorStreams!);
    const w = toF32(dtype, raw);
    const [bytes, bytes2] = this.rawStreamBytes(p, dtype, w.length);
    const indices = new Uint8Array(bytes), indices2 = p.k2 ? new Uint8Array(bytes2) : undefined;
    const recon = new Float32Array(w.length);
    await runJob((progress) => native.vptqEncode({ ...layout(p, t), weights: w, indices, indices2, recon, threads, device }, progress), { signal, onProgress });
    const decoded = fromF32(dtype, recon);
    return { streams: indices2 ? [indices, indices2] : [indices], sums: await chunkErrorSums(dtype, raw, decoded, ctx), decoded };
  },
  async decode(p, dtype, streams, elements, { threads, device, signal }, tensorStreams) {
    const t = tables(p, tensorStreams);
    const out = new Float32Array(elements);
    await runJob((progress) => native.vptqDecode({ ...layout(p, t), out, indices: streams[0], indices2: p.k2 ? streams[1] : undefined, threads, device }, progress), { signal });
    return fromF32(dtype, out);
  },
};

/** The chunk layout and codebooks of the native encode and decode. */
function layout(p: VptqParams, t: Tables) {
  return { cols: columns(p), v: p.v, scale: t.scale ?? undefined, bias: t.bias ?? undefined, codebook: t.c1, residual: t.c2 ?? undefined };
}

// `:rot` (docs/METHODS.md, "Rotations"): any lossy method applied to randomly rotated weights.
// Each row is cut into blocks of B columns (the largest power of two dividing the row, at most
// 4096) and each block x becomes H·(m ⊙ x)/√B, with H the Walsh–Hadamard matrix and m seeded
// signs (binding/cpu/quant/hadamard.h). The rotation is orthogonal, so the method's squared
// error on the rotated weights is the error of the weights, while outliers are spread over their
// block, which is what makes low-bit round-to-nearest usable (QuIP#, HIGGS). The container stores
// the seed in the spec (`rtn:4:g32:rot`, `…:rot7`), never a matrix; decode rotates back.
import { SpecError } from '../core/errors';
import type { Dtype } from '../io/dtypes';
import { runJob, type JobContext } from '../jobs';
import { native } from '../native';
import { bytesOf, chunkErrorSums, f32View, fromF32, toF32 } from './f32';
import { columnsOf } from './importance';
import type { ChunkFacts, Method, TensorFacts } from './method';

export interface RotationParams {
  method: Method<unknown>;
  inner: unknown;
  seed: number;
  /** Resolved from the tensor's shape: its row length and the block. */
  cols?: number;
  block?: number;
}

/** The seed `:rot` means. */
export const DEFAULT_ROTATION_SEED = 1;
const MAX_BLOCK = 4096;
/** Smaller blocks spread too little to be worth their cost. */
const MIN_BLOCK = 8;

/** `rot` or `rot<seed>` as the last part of a spec: the seed, else undefined. */
export function rotationSeed(part: string | undefined): number | undefined {
  const m = part === undefined ? null : /^rot([0-9]*)$/.exec(part);
  if (!m) return undefined;
  const seed = m[1] === '' ? DEFAULT_ROTATION_SEED : Number(m[1]);
  if (!(seed <= 0xffffffff)) throw new SpecError(`:rot's seed must be an integer from 0 to 4294967295 (got '${part}')`);
  return seed;
}

/** The block of a row of `cols` values: the largest power of two dividing it, at most 4096. */
export function rotationBlock(cols: number): number {
  let b = 1;
  while (b < MAX_BLOCK && cols % (2 * b) === 0) b *= 2;
  return b;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const shapeOf = (p: RotationParams) => {
  if (p.cols === undefined || p.block === undefined) throw new Error(':rot parameters used before they were resolved for a tensor shape');
  return { cols: p.cols, block: p.block };
};

/** Rotates f32 values (whole rows) in place, or back. */
async function rotate(p: RotationParams, x: Float32Array, inverse: boolean, { threads, device, signal }: JobContext): Promise<void> {
  const { cols, block } = shapeOf(p);
  await runJob((progress) => native.hadamardRotate({ x, period: cols, block, seed: p.seed, inverse, threads, device }, progress), { signal });
}

/** Column importance as the rotated weights see it: the diagonal of Rᵀ·diag(d)·R, which is each
 * block's mean importance (every rotated column mixes its block's columns with equal weight). */
function rotatedImportance(p: RotationParams, importance: Float32Array | undefined): Float32Array | undefined {
  if (!importance) return undefined;
  const { block } = shapeOf(p);
  const out = new Float32Array(importance.length);
  for (let b = 0; b < importance.length; b += block) {
    let sum = 0;
    for (let j = b; j < b + block; j++) sum += importance[j];
    out.fill(sum / block, b, b + block);
  }
  return out;
}

function rotatedFacts<T extends TensorFacts>(p: RotationParams, facts: T): T {
  const { block } = shapeOf(p);
  // |H·(m ⊙ x)|_i <= Σ|x_j|/√B <= √B · max|x|; the mean is not known before rotating.
  return { ...facts, absMax: facts.absMax * Math.sqrt(block), absMean: NaN, importance: rotatedImportance(p, facts.importance) };
}

/** Rotated f32 copies of stored weights (the stored bytes are never changed). */
async function rotatedCopy(p: RotationParams, dtype: Dtype, raw: Uint8Array, ctx: JobContext): Promise<Float32Array> {
  const x = dtype === 'F32' ? f32View(raw).slice() : toF32(dtype, raw);
  await rotate(p, x, false, ctx);
  return x;
}

export const rotation: Method<RotationParams> = {
  name: 'rot',
  lossy: true,
  usesImportance: (p) => p.method.usesImportance?.(p.inner) ?? false,
  parse() {
    throw new SpecError(':rot follows a lossy method, e.g. rtn:4:rot');
  },
  format: (p) => `${p.method.format(p.inner)}:rot${p.seed === DEFAULT_ROTATION_SEED ? '' : p.seed}`,
  resolve(p, shape) {
    const cols = columnsOf(shape);
    return { ...p, inner: p.method.resolve ? p.method.resolve(p.inner, shape) : p.inner, cols, block: rotationBlock(cols) };
  },
  unsupported(p, dtype, shape) {
    const r = this.resolve!(p, shape);
    const inner = p.method.unsupported(r.inner, dtype, shape);
    if (inner) return inner;
    if (r.block! < MIN_BLOCK) return `:rot needs rows whose length has a power-of-two factor of at least ${MIN_BLOCK} (rows of ${r.cols})`;
    if (p.method.name === 'ternary' && (r.inner as { scale?: string }).scale === 'tensor')
      return ":rot rotates chunk by chunk, and ternary:tensor's scale is the mean |w| of the unrotated tensor; use group or row scales";
    return undefined;
  },
  unrepresentable: (p, absMax) => p.method.unrepresentable?.(p.inner, absMax * Math.sqrt(shapeOf(p).block)),
  // Whole rows: the rotation's blocks and the method's units both lie inside a chunk.
  chunkUnit(p) {
    const unit = p.method.chunkUnit(p.inner), { cols } = shapeOf(p);
    return (unit / gcd(unit, cols)) * cols;
  },
  streamNames: (p) => p.method.streamNames(p.inner, 'F32'),
  rawStreamBytes: (p, _dtype, elements) => p.method.rawStreamBytes(p.inner, 'F32', elements),
  tensorStreamNames: (p) => p.method.tensorStreamNames?.(p.inner, 'F32') ?? [],
  rawTensorStreamBytes: (p, _dtype, shape) => p.method.rawTensorStreamBytes?.(p.inner, 'F32', shape) ?? [],
  nominalBits: (p, _dtype, numel) => p.method.nominalBits(p.inner, 'F32', numel),
  symbolModel: (p, _dtype, stream) => p.method.symbolModel?.(p.inner, 'F32', stream),
  async prepare(p, dtype, input, ctx) {
    if (!p.method.prepare) return [];
    const read = async (first: number, count: number) => {
      if (first % shapeOf(p).cols || count % shapeOf(p).cols) throw new Error(':rot reads whole rows');
      return bytesOf(await rotatedCopy(p, dtype, await input.read(first, count), ctx));
    };
    return p.method.prepare(p.inner, 'F32', { facts: rotatedFacts(p, input.facts), read, importance: rotatedImportance(p, input.importance) }, ctx);
  },
  async encode(p, dtype, raw, ctx, chunk) {
    const x = await rotatedCopy(p, dtype, raw, ctx);
    // The chunk's own max |y| rather than the bound: seedlm sets its exponent range from it.
    const facts: ChunkFacts = { ...rotatedFacts(p, chunk), absMax: native.tensorStats(x).absMax };
    const { streams } = await p.method.encode(p.inner, 'F32', bytesOf(x), ctx, facts);
    // The error is measured on what decode gives back: rotated back and rounded to the dtype.
    const decoded = await this.decode(p, dtype, streams, x.length, ctx, chunk.tensorStreams ?? []);
    return { streams, sums: await chunkErrorSums(dtype, raw, decoded, ctx), decoded };
  },
  async decode(p, dtype, streams, elements, ctx, tensorStreams) {
    const bytes = await p.method.decode(p.inner, 'F32', streams, elements, ctx, tensorStreams);
    const x = f32View(bytes);
    await rotate(p, x, true, ctx);
    return fromF32(dtype, x);
  },
};

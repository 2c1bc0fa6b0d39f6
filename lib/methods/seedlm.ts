// seedlm (docs/METHODS.md, "seedlm"; SeedLM): each block of C weights becomes a 16-bit LFSR
// seed, a 4-bit exponent and P 4-bit coefficients, found by trying all 65535 seeds. Presets:
// seedlm:4 (C 8, P 3, 4.0 bits/weight) and seedlm:3 (C 12, P 4, 3.0); `:fast` is the opt-in
// approximate search. Kernels: binding/cpu/quant/seedlm_{scalar,avx2}.cc and, for the exhaustive search,
// binding/cuda/seedlm.cu (where each runs: binding/backend_table.cc).
import { ENCODED_DTYPES } from '../io/dtypes';
import { runJob } from '../jobs';
import { native } from '../native';
import { bytesOf, chunkErrorSums, fromF32, toF32, u16View } from './f32';
import { chunkElements, type Method } from './method';
import { SpecError } from '../core/errors';

export interface SeedlmParams {
  /** Bits per weight: 4 (C 8, P 3) or 3 (C 12, P 4). */
  bits: 3 | 4;
  /** The approximate search: only the FAST_KEEP best seeds by least-squares error are quantized. */
  fast: boolean;
}

/** Seeds the approximate mode evaluates exactly per block. */
export const FAST_KEEP = 8;

const shape = (p: SeedlmParams) => (p.bits === 4 ? { C: 8, P: 3 } : { C: 12, P: 4 });
const blocksOf = (p: SeedlmParams, elements: number) => Math.ceil(elements / shape(p).C);
/** Nibbles per block: the exponent code, then the P coefficients. */
const nibbleBytes = (p: SeedlmParams, blocks: number) => Math.ceil((blocks * (shape(p).P + 1)) / 2);

/** The search compares seeds by Σ (w - ŵ)² over a block of up to 12 weights, in f32: with
 * |w| <= 2^62, 12·(2^62)² < FLT_MAX, so even a fit no better than zero keeps it finite. Measured:
 * the search first fails ("no finite fit") at about 6e19 (seedlm:3, a block of large weights). */
export const SEEDLM_MAX_ABS = 2 ** 62;

/** Exponent range the kernels accept for eMin (binding/cpu/quant/seedlm.h). */
const MIN_EXP = -110;
const MAX_EXP = 100;

/** fields (P + 1 bytes per block) <-> nibbles, low nibble first; q_p in two's complement. */
function packFields(fields: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(fields.length / 2));
  for (let i = 0; i < fields.length; i++) out[i >> 1] |= (fields[i] & 15) << (4 * (i & 1));
  return out;
}

function unpackFields(p: SeedlmParams, nibbles: Uint8Array, blocks: number): Uint8Array {
  const P = shape(p).P;
  const fields = new Uint8Array(blocks * (P + 1));
  for (let i = 0; i < fields.length; i++) {
    const v = (nibbles[i >> 1] >> (4 * (i & 1))) & 15;
    fields[i] = i % (P + 1) === 0 || v < 8 ? v : v + 240; // sign-extend the coefficients
  }
  return fields;
}

export const seedlm: Method<SeedlmParams> = {
  name: 'seedlm',
  lossy: true,
  parse(args) {
    if (args.length < 1 || args.length > 2 || (args[0] !== '4' && args[0] !== '3') || (args.length === 2 && args[1] !== 'fast'))
      throw new SpecError('seedlm needs a preset, optionally approximate: seedlm:4 (C 8, P 3) or seedlm:3 (C 12, P 4), then :fast');
    return { bits: args[0] === '4' ? 4 : 3, fast: args[1] === 'fast' };
  },
  format: (p) => `seedlm:${p.bits}${p.fast ? ':fast' : ''}`,
  unsupported: (_p, dtype) => (ENCODED_DTYPES.includes(dtype) ? undefined : `seedlm encodes F32/F16/BF16, not ${dtype}`),
  unrepresentable: (_p, absMax) => (absMax > SEEDLM_MAX_ABS ? `its search sums squared errors in f32, safe up to |w| = 2^62 (${SEEDLM_MAX_ABS})` : undefined),
  // Whole blocks, an even number of them (the nibble stream stays byte-aligned per chunk).
  chunkUnit: (p) => 2 * shape(p).C,
  streamNames: () => ['seeds', 'fields', 'exponent'],
  // Fields are nibbles, P + 1 per block: with P 3 a block is 4 nibbles, each in its own context
  // (the exponent code apart from the coefficients).
  symbolModel: (p, _dtype, stream) => (stream === 'seeds' ? { contexts: 2 } : stream === 'fields' ? (shape(p).P === 3 ? { bits: 4, contexts: 4 } : { bits: 4 }) : undefined),
  rawStreamBytes: (p, _dtype, elements) => [2 * blocksOf(p, elements), nibbleBytes(p, blocksOf(p, elements)), 1],
  nominalBits(p, _dtype, numel) {
    if (!numel) return 0;
    const blocks = blocksOf(p, numel), chunks = Math.ceil(numel / chunkElements(this.chunkUnit(p)));
    return (16 * blocks + 4 * (shape(p).P + 1) * blocks + 8 * chunks) / numel;
  },
  async encode(p, dtype, raw, ctx, tensor) {
    const { threads, device, signal, onProgress } = ctx;
    const { C, P } = shape(p);
    const w = toF32(dtype, raw);
    const blocks = blocksOf(p, w.length);
    const { eMin } = native.seedlmTables(C, P, tensor.absMax);
    const seeds = new Uint16Array(blocks);
    const fields = new Uint8Array(blocks * (P + 1));
    // The search takes minutes per chunk: its progress feeds the bar and its ETA.
    await runJob((progress) => native.seedlmEncode({ weights: w, C, P, eMin, keep: p.fast ? FAST_KEEP : 0, seeds, fields, threads, device }, progress), { signal, onProgress });
    const recon = new Float32Array(w.length);
    await runJob((progress) => native.seedlmDecode({ out: recon, C, P, eMin, seeds, fields, threads, device }, progress), { signal });
    const decoded = fromF32(dtype, recon);
    return { streams: [bytesOf(seeds), packFields(fields), Uint8Array.of(eMin & 255)], sums: await chunkErrorSums(dtype, raw, decoded, ctx), decoded };
  },
  async decode(p, dtype, [seedBytes, nibbles, exponent], elements, { threads, device, signal }) {
    const { C, P } = shape(p);
    const eMin = (exponent[0] << 24) >> 24;
    if (eMin < MIN_EXP || eMin > MAX_EXP) throw new Error(`seedlm: stored exponent base ${eMin} is outside ${MIN_EXP}..${MAX_EXP}`);
    const blocks = blocksOf(p, elements);
    const out = new Float32Array(elements);
    const fields = unpackFields(p, nibbles, blocks);
    await runJob((progress) => native.seedlmDecode({ out, C, P, eMin, seeds: u16View(seedBytes), fields, threads, device }, progress), { signal });
    return fromF32(dtype, out);
  },
};

// What every compression method provides to the pipeline. A tensor is encoded in chunks of
// whole units (e.g. rtn groups); each chunk yields one raw byte stream per stream name, and the
// entropy stage then stores each (chunk, stream) piece compressed or raw. A method may also store
// streams once per tensor (vptq's codebook), made by prepare() from the whole tensor before its
// first chunk and handed to every chunk's encode and decode.
import type { Dtype } from '../io/dtypes';
import type { JobContext } from '../jobs';
import type { ErrorSums } from '../native';

/** What the pipeline knows of a whole tensor before encoding its first chunk. */
export interface TensorFacts {
  shape: number[];
  /** Mean |w| over the whole tensor (lossy methods only). */
  absMean: number;
  /** Max |w| over the whole tensor (lossy methods only). */
  absMax: number;
  /** The tensor streams prepare() made (methods with tensor streams only). */
  tensorStreams?: Uint8Array[];
  /** Importance of each input column (f32, one per column of the 2-D view), when the user gave one. */
  importance?: Float32Array;
}

/** What encode() knows of its chunk: the tensor's facts and where the chunk starts. */
export interface ChunkFacts extends TensorFacts {
  /** Index of the chunk's first element in the tensor. */
  first: number;
}

/** What prepare() may read of a tensor. */
export interface TensorInput {
  facts: TensorFacts;
  /** Elements [first, first + count) in the stored dtype. */
  read(first: number, count: number): Promise<Uint8Array>;
  /** Importance of each input column (f32, one per column of the 2-D view), when the user gave one. */
  importance?: Float32Array;
}

export interface Method<P> {
  readonly name: string;
  readonly lossy: boolean;
  /** Whether --importance changes what this method stores (absent: it does not). */
  usesImportance?(p: P): boolean;
  /** Parameters from the parts after the method name (`rtn:4:g32` -> ['4', 'g32']). */
  parse(args: string[]): P;
  /** Canonical spec string, e.g. 'rtn:4:g32'. */
  format(p: P): string;
  /** Parameters that depend on the tensor's shape made concrete (e.g. ternary:row -> a group of one row). */
  resolve?(p: P, shape: number[]): P;
  /** Why the method cannot encode a tensor of this dtype and shape, or undefined when it can. */
  unsupported(p: P, dtype: Dtype, shape: number[]): string | undefined;
  /** Why weights with absolute values up to absMax (finite, from the pass before encoding) are
   * beyond what the method can store, or undefined when they are not: its scales or codebook
   * overflow their dtype, or its arithmetic overflows. The pipeline then stores the tensor
   * lossless (or fails, naming it) instead of failing half way. Absent: no limit. */
  unrepresentable?(p: P, absMax: number): string | undefined;
  /** Chunk sizes are multiples of this many elements. */
  chunkUnit(p: P): number;
  streamNames(p: P, dtype: Dtype): string[];
  /** Raw bytes of each stream for a chunk of `elements` elements (also validates containers). */
  rawStreamBytes(p: P, dtype: Dtype, elements: number): number[];
  /** Streams stored once per tensor (default: none), their raw sizes, and how they are made. */
  tensorStreamNames?(p: P, dtype: Dtype): string[];
  rawTensorStreamBytes?(p: P, dtype: Dtype, shape: number[]): number[];
  prepare?(p: P, dtype: Dtype, input: TensorInput, ctx: JobContext): Promise<Uint8Array[]>;
  /** Bits per weight before the entropy stage (exact accounting of what the method stores). */
  nominalBits(p: P, dtype: Dtype, numel: number): number;
  /** How the entropy stage's rANS coder models a stream's (or tensor stream's) bytes; absent or
   * undefined: as bytes, one context. */
  symbolModel?(p: P, dtype: Dtype, stream: string): SymbolModel | undefined;
  /** When the streams are just the byte planes of the stored elements (bytePlanes' layout), how
   * to split and merge them: compress then splits a chunk in its entropy-stage job instead of
   * calling encode(), and the container decodes and merges a chunk in one native job instead of
   * calling decode(). */
  planes?(p: P, dtype: Dtype): { width: number; rotate: boolean };
  /** raw: the chunk in its stored dtype. Returns the streams and, for lossy methods, the error
   * sums of the chunk as decode() will give it back against raw (both in the stored dtype);
   * `decoded` is that reconstruction where the method holds it anyway. */
  encode(p: P, dtype: Dtype, raw: Uint8Array, ctx: JobContext, chunk: ChunkFacts): Promise<Encoded>;
  /** The chunk in its stored dtype from its streams (and the tensor streams, if any). */
  decode(p: P, dtype: Dtype, streams: Uint8Array[], elements: number, ctx: JobContext, tensorStreams: Uint8Array[]): Promise<Uint8Array>;
}

export interface Encoded {
  streams: Uint8Array[];
  sums?: ErrorSums;
  decoded?: Uint8Array;
}

/** A stream as rANS models it (docs/METHODS.md, "The entropy stage"): codes of `bits` bits (1-8,
 * packed LSB first; default 8, its bytes), symbol i in context i mod `contexts` (default 1): 2 for
 * the two bytes of f16 values, 4 for records of 4 bytes. */
export interface SymbolModel {
  bits?: number;
  contexts?: 1 | 2 | 4 | 8;
}

/** f16 values: their high and low bytes in two contexts. */
export const F16_VALUES: SymbolModel = { contexts: 2 };

/** The largest finite f16, and where f32 -> f16 rounding starts giving Inf (round to nearest even). */
export const F16_MAX = 65504;
export const F16_OVERFLOW = 65520;

/** Bytes of n codes of `bits` bits packed LSB first (binding/cpu/codec/bitpack.h). */
export const packedBytes = (n: number, bits: number) => Math.ceil((n * bits) / 8);

/** The `width` byte planes held back to back in `planes` (bytePlanes' layout: Method.planes), as
 * one stream each. */
export function planeStreams(planes: Uint8Array, width: number): Uint8Array[] {
  const n = planes.byteLength / width;
  return Array.from({ length: width }, (_, k) => planes.subarray(k * n, (k + 1) * n));
}

/** Elements per chunk: a whole number of units near 4 Mi elements (bounded memory per chunk). */
export const CHUNK_TARGET = 1 << 22;

export function chunkElements(unit: number): number {
  return unit * Math.max(1, Math.floor(CHUNK_TARGET / unit));
}

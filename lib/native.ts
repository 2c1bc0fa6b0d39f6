// Loads tensorzip.node (local build in build/Release, else prebuilds/<platform>-<arch>) through
// node-gyp-build and gives it a type. The one place that touches the raw module.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');

/** Dtypes the ternary kernels read and write directly; BF16 and F16 travel as raw 16-bit patterns. */
export type TernaryDtype = 'F32' | 'BF16' | 'F16';
export type TernaryWeights = Float32Array | Uint16Array;

/** Runs a call's kernel on that GPU ({ device: 'cuda', cudaDevice }) instead of the CPU. */
export interface DeviceOptions {
  device?: 'cpu' | 'cuda';
  cudaDevice?: number;
}

/** What a native job returns: the promise plus a cancel function (used by runJob). */
export interface NativeJobHandle<T> {
  promise: Promise<T>;
  cancel(): void;
}

export type ProgressCallback = (done: number, total: number) => void;
export type ConvertKind = 'f32_to_bf16' | 'bf16_to_f32' | 'f32_to_f16' | 'f16_to_f32';
export type KernelPath = 'auto' | 'scalar' | 'avx2';

export interface NativeGpu {
  name: string;
  computeCapability: string;
  memoryBytes: number;
  multiprocessors: number;
}

export interface NativeBackendInfo {
  cpu: 'avx2' | 'scalar';
  cpuReason: string;
  cpuFeatures: { avx: boolean; avx2: boolean; fma: boolean; f16c: boolean };
  cuda: { library: string; gpus: NativeGpu[] } | { unavailable: string };
}

/** Error statistics accumulated in double: Σa², Σ(a−b)², Σab, Σb², max|a−b|. */
export interface ErrorSums {
  signal: number;
  noise: number;
  dot: number;
  recon: number;
  maxAbs: number;
}

export interface LlamaLayerShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** Sliding-window length (0: none). */
  window: number;
  eps: number;
}

export interface LlamaLayerWeights {
  attnNorm: Float32Array;
  mlpNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
}

/** Sums of squared inputs per column: q/k/v's, o_proj's, gate/up's and down_proj's. */
export interface LlamaLayerStats {
  attnIn: Float64Array;
  oIn: Float64Array;
  mlpIn: Float64Array;
  downIn: Float64Array;
}

/** Final hidden states (before the final norm), the final norm and lm_head [vocab, dim]. */
export interface LlamaHeadWeights {
  hidden: Float32Array;
  norm: Float32Array;
  lm: Float32Array;
}

export interface NativeBinding {
  backendInfo(): NativeBackendInfo;
  convert(kind: ConvertKind, src: Float32Array | Uint16Array, dst: Float32Array | Uint16Array, path?: KernelPath): void;
  convertAsync(
    kind: ConvertKind,
    src: Float32Array | Uint16Array,
    dst: Float32Array | Uint16Array,
    options: { threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  copy(dst: Uint8Array, src: Uint8Array, threads?: number): void;
  xzEncodeMany(
    pieces: Uint8Array[],
    options: { preset?: number; extreme?: boolean; weights?: boolean; probe?: boolean; threads?: number },
    onProgress?: ProgressCallback,
  ): NativeJobHandle<Array<Buffer | null>>;
  xzDecodeMany(pieces: Uint8Array[], outputs: Uint8Array[], options: { threads?: number }, onProgress?: ProgressCallback): NativeJobHandle<void>;
  splitPlanes(src: Uint8Array, width: number, rotate: boolean, dst: Uint8Array): void;
  mergePlanes(src: Uint8Array, width: number, rotate: boolean, dst: Uint8Array): void;
  lzmaVersion(): string;
  rtnEncode(weights: Float32Array, bits: number, group: number, codes: Uint8Array, scales: Uint16Array, path?: KernelPath): void;
  rtnDecode(out: Float32Array, bits: number, group: number, codes: Uint8Array, scales: Uint16Array, path?: KernelPath): void;
  rtnEncodeAsync(
    weights: Float32Array, bits: number, group: number, codes: Uint8Array, scales: Uint16Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  rtnDecodeAsync(
    out: Float32Array, bits: number, group: number, codes: Uint8Array, scales: Uint16Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** rtn with each group's scale chosen to minimise the importance-weighted error (importance: one value per weight). */
  rtnEncodeWeightedAsync(
    weights: Float32Array, bits: number, group: number, codes: Uint8Array, scales: Uint16Array, importance: Float32Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  errorSums(original: Float32Array, reconstructed: Float32Array): ErrorSums;
  weightStats(weights: Float32Array): { nonFinite: number; absSum: number; absMax: number };
  // weights: Float32Array for 'F32', Uint16Array of raw bits for 'BF16' / 'F16'; decode writes that dtype.
  ternaryEncode(weights: TernaryWeights, dtype: TernaryDtype, group: number, packing: 2 | 3, tensorScale: number, rounds: number, packed: Uint8Array, scales: Uint16Array, path?: KernelPath): void;
  ternaryDecode(out: TernaryWeights, dtype: TernaryDtype, group: number, packing: 2 | 3, tensorScale: number, rounds: 0, packed: Uint8Array, scales: Uint16Array, path?: KernelPath): void;
  ternaryEncodeAsync(
    weights: TernaryWeights, dtype: TernaryDtype, group: number, packing: 2 | 3, tensorScale: number, rounds: number, packed: Uint8Array, scales: Uint16Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  ternaryDecodeAsync(
    out: TernaryWeights, dtype: TernaryDtype, group: number, packing: 2 | 3, tensorScale: number, rounds: 0, packed: Uint8Array, scales: Uint16Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** ternary:opt with group scales, each chosen to minimise the importance-weighted error (importance: one value per weight). */
  ternaryEncodeWeightedAsync(
    weights: TernaryWeights, dtype: TernaryDtype, group: number, packing: 2 | 3, tensorScale: -1, rounds: number, packed: Uint8Array, scales: Uint16Array,
    importance: Float32Array, options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  // seedlm (binding/cpu/quant/seedlm.h): fields hold (P + 1) bytes per block: e4, then q_p as int8.
  /** keep 0: exhaustive search; keep K (1..32): the approximate mode's K best seeds by least-squares error. */
  seedlmEncode(weights: Float32Array, C: number, P: number, eMin: number, keep: number, seeds: Uint16Array, fields: Uint8Array, path?: KernelPath): void;
  seedlmDecode(out: Float32Array, C: number, P: number, eMin: number, seeds: Uint16Array, fields: Uint8Array): void;
  seedlmEncodeAsync(
    weights: Float32Array, C: number, P: number, eMin: number, keep: number, seeds: Uint16Array, fields: Uint8Array,
    options: { threads?: number } & DeviceOptions, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  seedlmDecodeAsync(
    out: Float32Array, C: number, P: number, eMin: number, seeds: Uint16Array, fields: Uint8Array,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  seedlmTables(C: number, P: number): { worstInverseError: number };
  /** The per-tensor exponent base for a tensor's max |w|. */
  seedlmExpMin(absMax: number): number;
  seedlmStates(C: number, P: number, seed: number, count: number): Uint16Array;
  // k-means (binding/cpu/quant/kmeans.h): points are n·v f32 values, row-major; weights one per point.
  kmeansTrainAsync(
    points: Float32Array, v: number, k: number, weights: Float32Array | null,
    options: { iterations?: number; tolerance?: number; seed?: number; sample?: number; initSample?: number; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<{ centroids: Float32Array; objective: number[]; repaired: number }>;
  kmeansAssign(points: Float32Array, v: number, centroids: Float32Array, labels: Uint32Array, path?: KernelPath): void;
  kmeansAssignAsync(
    points: Float32Array, v: number, centroids: Float32Array, labels: Uint32Array, options: { threads?: number } & DeviceOptions, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** One Lloyd update in place on centroids (k x v) for the labels; weights may be null. */
  kmeansUpdate(points: Float32Array, v: number, labels: Uint32Array, centroids: Float32Array, weights: Float32Array | null): { objective: number; repaired: number };
  // vptq (binding/cpu/quant/vptq.h): weights/out are rows x cols f32; codebooks k x v f32; one label per vector.
  vptqGather(weights: Float32Array, cols: number, v: number, scale: Float32Array | null, bias: Float32Array | null): Float32Array;
  vptqEncodeAsync(
    weights: Float32Array, cols: number, v: number, scale: Float32Array | null, bias: Float32Array | null,
    codebook: Float32Array, residual: Float32Array | null, labels: Uint32Array, labels2: Uint32Array | null, recon: Float32Array,
    options: { threads?: number } & DeviceOptions, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  vptqDecodeAsync(
    out: Float32Array, cols: number, v: number, scale: Float32Array | null, bias: Float32Array | null,
    codebook: Float32Array, residual: Float32Array | null, labels: Uint32Array, labels2: Uint32Array | null,
    options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** Codes of 1-16 bits packed LSB first into ceil(n·bits/8) bytes, and back. */
  packCodes(codes: Uint32Array, bits: number, out: Uint8Array): void;
  unpackCodes(packed: Uint8Array, bits: number, out: Uint32Array): void;
  /** f32 GFLOP/s of 8-wide FMAs on `threads` threads (NaN without AVX2/FMA): the bench's compute limit. */
  fmaPeak(threads: number, seconds: number): number;
  /** Device-to-device copy, bytes read + written per second (throws without the CUDA backend). */
  cudaCopyBandwidth(device: number, bytes: number): number;
  // Forward pass (binding/llama_binding.cc). Weights are [out, in] row-major f32.
  /** y = x·wᵀ (+ bias) for x [rows, k], w [cols, k] (tests). */
  gemm(x: Float32Array, rows: number, w: Float32Array, cols: number, bias: Float32Array | null, path?: KernelPath): Float32Array;
  /** One decoder layer in place on hidden (sequences × positions × shape.hidden); stats: sums of squared inputs, added to. */
  llamaLayerAsync(
    hidden: Float32Array, positions: number, shape: LlamaLayerShape, weights: LlamaLayerWeights, invFreq: Float32Array,
    stats: LlamaLayerStats | null, options: { threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** Per row: −log p(target) and the arg-max of ref (index 0) and other (1), and KL(P_ref ‖ P_other). */
  llamaScoreAsync(
    ref: LlamaHeadWeights, other: LlamaHeadWeights | null, rows: Uint32Array, targets: Uint32Array,
    options: { eps: number; threads?: number }, onProgress?: ProgressCallback,
  ): NativeJobHandle<{ nll: Float64Array[]; top: Uint32Array[]; kl?: Float64Array }>;
  /** Adds Σ rmsnorm(h)² per column of hidden's rows to sums (lm_head's input statistics). */
  llamaNormSquaresAsync(hidden: Float32Array, norm: Float32Array, eps: number, sums: Float64Array): NativeJobHandle<void>;
  activeJobs(): number;
  jobSelfTest(
    options: { steps?: number; stepMs?: number; failAt?: number },
    onProgress?: ProgressCallback,
  ): NativeJobHandle<number>;
}

/** The package root (holds package.json, build/ and prebuilds/), from dist/lib/. */
export const packageRoot = path.resolve(__dirname, '..', '..');
/** This package's version, from its package.json. */
export const packageVersion: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

/** An addon built for another version of the package (a stale prebuild, or build/ from an older
 * checkout) may not match this JS: refused, saying how to rebuild. */
export function checkAddonVersion(built: unknown, file: string, expected = packageVersion): void {
  if (built !== expected)
    throw new Error(
      `tensorzip: the native addon ${file} was built for tensorzip ${typeof built === 'string' ? built : '(unknown version)'}, ` +
        `but this package is ${expected}. Rebuild it: npm rebuild tensorzip (needs cmake and a C++17 compiler).`,
    );
}

/** Compares dotted versions: < 0, 0 or > 0. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  return 0;
}

/** A prebuild records the newest glibc it needs (scripts/prebuild.js); an older system glibc
 * would fail inside dlopen with a cryptic symbol error, so it is refused first, saying why. */
export function checkPrebuildGlibc(needed: string | undefined, runtime: string | undefined, file: string): void {
  if (!needed || !runtime) return; // not a prebuild, or not glibc (musl prebuilds are not made)
  if (compareVersions(runtime, needed) < 0)
    throw new Error(
      `tensorzip: the prebuilt addon ${file} needs glibc >= ${needed}, but this system has glibc ${runtime}. ` +
        'Build from source instead: install cmake, a C++17 compiler and liblzma-dev, then run npm rebuild tensorzip.',
    );
}

function prebuildGlibc(file: string): string | undefined {
  try {
    return JSON.parse(readFileSync(path.join(path.dirname(file), 'tensorzip.json'), 'utf8')).glibc;
  } catch {
    return undefined; // a local build: nothing recorded
  }
}

function load(): NativeBinding {
  let binding: NativeBinding & { version?: unknown };
  let file = '';
  try {
    file = nodeGypBuild.path(packageRoot);
    if (file.includes(`${path.sep}prebuilds${path.sep}`)) {
      const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
      checkPrebuildGlibc(prebuildGlibc(file), header?.glibcVersionRuntime, file);
    }
    binding = nodeGypBuild(packageRoot) as NativeBinding;
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('tensorzip:')) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(
      `tensorzip: could not load the native addon (${reason}). ` +
        'Build it with `npm run build:native` (needs cmake and a C++17 compiler) or install a package with prebuilds.',
    );
  }
  checkAddonVersion(binding.version, file);
  return binding;
}

export const native: NativeBinding = load();

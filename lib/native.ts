// Loads tensorzip.node (a source build in build/Release, else the platform package: see
// addon-location.ts) on first use and gives it a type. The one place that touches the raw module.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILD_FROM_SOURCE, locateAddon, resolvePackageDir } from './addon-location';

/** Dtypes the ternary kernels read and write directly; BF16 and F16 travel as raw 16-bit patterns. */
export type TernaryDtype = 'F32' | 'BF16' | 'F16';
export type TernaryWeights = Float32Array | Uint16Array;

/** Where a native job runs (binding/backend_table.h): absent, or cuda undefined, the CPU; else that
 * GPU for each capability that has a CUDA implementation taking the call. A capability that falls
 * back to the CPU calls onFallback(capability, reason) before the job starts. */
export interface NativeDevice {
  cuda?: number;
  onFallback?: (capability: string, reason: string) => void;
}

/** The device argument of the entry points that have one. */
export interface DeviceOptions {
  device?: NativeDevice;
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
  /** The KernelTable rows' names, in member order. */
  kernelRows: KernelRowName[];
  /** Native jobs running now (tests check that none leak). */
  activeJobs: number;
}

/** What lossy methods need of a tensor before encoding it. */
export interface WeightStats {
  nonFinite: number;
  absSum: number;
  absMax: number;
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

/** The arrays of a ternary call: weights / out are a Float32Array for 'F32', a Uint16Array of raw bits for 'BF16' / 'F16'. */
interface TernaryArrays {
  dtype: TernaryDtype;
  group: number;
  packing: 2 | 3;
  /** >= 0: that one scale for every weight (scales empty); absent or < 0: one f16 scale per group. */
  tensorScale?: number;
  packed: Uint8Array;
  scales: Uint16Array;
}

type RtnEncodeArgs = {
  weights: Float32Array | Uint16Array;
  dtype?: TernaryDtype;
  bits: number;
  group: number;
  codes: Uint8Array;
  scales: Uint16Array;
  importance?: Float32Array;
  measure?: boolean;
  threads?: number;
} & DeviceOptions;

type TernaryEncodeArgs = TernaryArrays & { weights: TernaryWeights; rounds?: number; importance?: Float32Array; measure?: boolean; threads?: number } & DeviceOptions;

/** vptq's chunk layout (binding/cpu/quant/vptq.h): rows x cols f32, per-column scale and bias (both or neither). */
interface VptqArrays {
  cols: number;
  v: number;
  scale?: Float32Array;
  bias?: Float32Array;
  /** k x v f32 codebooks, k a power of two. */
  codebook: Float32Array;
  residual?: Float32Array;
  /** One log2(k)-bit label per vector, packed LSB first as the container stores them;
   * indices2 (into the residual codebook) exactly with one. */
  indices: Uint8Array;
  indices2?: Uint8Array;
}

/** The rows of the CPU kernel table (binding/cpu/runtime/kernels.h), in member order. */
export type KernelRowName =
  | 'f32_to_bf16' | 'bf16_to_f32' | 'f32_to_f16' | 'f16_to_f32' | 'rtn_encode' | 'rtn_decode' | 'ternary_encode' | 'ternary_decode'
  | 'seedlm_search' | 'kmeans_assign' | 'gemm_panels' | 'rans_decode_block' | 'rans_encode_block'
  | 'error_window' | 'stats_window' | 'hadamard_blocks' | 'split_planes' | 'merge_planes';

/** The typed view of the addon. Entry points with many inputs take them by name in one object;
 * long work runs as a job (NativeJobHandle) with progress and cancellation. */
export interface NativeBinding {
  backendInfo(): NativeBackendInfo;
  /** Runs one KernelTable row now, over all of args' elements, on the table `path` names
   * ('auto': the one in use). args are the row's family's arguments (rtn_encode: those of
   * rtnEncode, without importance; the conversions: { src, dst }; gemm_panels: { x, rows, w, cols,
   * bias?, y }). Returns the decoders' DecodeFault mask (1: a bad code, 2: a bad scale), else 0. */
  kernelRow(row: KernelRowName, args: object, path?: KernelPath): number;
  convert(
    args: { kind: ConvertKind; src: Float32Array | Uint16Array; dst: Float32Array | Uint16Array; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  copy(dst: Uint8Array, src: Uint8Array, threads?: number): void;
  /** The entropy stage: each piece coded with `codec` (rans: as models[i] says; xz: at
   * preset/extreme, or the weights profile, probing a large piece first) into the first sizes[i]
   * bytes of outputs[i]; sizes[i] null where that would not save 1 % (store it raw: an output as
   * large as its piece always suffices); crc32[i] the CRC-32 of what is stored (the coded bytes or
   * the piece). splits: pieces first .. first + width - 1 are first filled with the byte planes of
   * src (bytePlanes' layout), on the job's threads. With device, the rANS blocks of every piece are
   * coded on that GPU in one call (capability 'rans encode'; the frames planned and assembled on
   * the CPU, xz on the CPU), to the same frames. What the job writes (outputs, split planes) may
   * overlap nothing else it touches; what it only reads may share memory. */
  encodePieces(
    pieces: Uint8Array[],
    outputs: Uint8Array[],
    options: {
      codec: 'rans' | 'xz';
      models?: Array<{ bits?: number; contexts?: number }>;
      preset?: number;
      extreme?: boolean;
      weights?: boolean;
      probe?: boolean;
      splits?: Array<{ src: Uint8Array; width: number; rotate?: boolean; first: number }>;
      threads?: number;
    } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<{ sizes: Array<number | null>; crc32: number[] }>;
  /** Each piece, coded with codecs[i], decoded into exactly outputs[i] ('raw': only checked, its
   * output empty); with crc32, every piece is first checked against crc32[i] ("piece i: checksum
   * mismatch"); with merge, the pieces (a raw one as it is) are then merged as the byte planes of
   * merge.dst (bytePlanes' merge). With device, the rANS blocks of every piece decode on that GPU
   * in one call (capability 'rans decode'; xz pieces and constant frames on the CPU), to the same
   * bytes and with the same errors. Outputs and merge.dst may overlap nothing else of the call. */
  decodePieces(
    pieces: Uint8Array[],
    outputs: Uint8Array[],
    options: { codecs: Array<'rans' | 'xz' | 'raw'>; crc32?: number[]; merge?: { width: number; rotate?: boolean; dst: Uint8Array }; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** Splits elements of `width` bytes into byte planes (rotate: the sign bit moved to bit 0), or
   * merges them back. The planes (dst of a split, src of a merge) are one array holding them back
   * to back, or an array of `width` planes. */
  bytePlanes(args: { mode: 'split'; src: Uint8Array; width: number; rotate?: boolean; dst: Uint8Array | Uint8Array[] }): void;
  bytePlanes(args: { mode: 'merge'; src: Uint8Array | Uint8Array[]; width: number; rotate?: boolean; dst: Uint8Array }): void;
  /** rtn groups of 32 (codes of 4, 5 or 8 bits, f16 scales) as ggml Q4_0 / Q5_0 / Q8_0 blocks, bit
   * for bit the same weights; throws on a code rtn never writes. */
  rtnGgmlBlocks(args: { bits: 4 | 5 | 8; codes: Uint8Array; scales: Uint16Array; out: Uint8Array }): void;
  /** Memory aligned to 4096 bytes for O_DIRECT transfers (bytes: a multiple of 4096 up to 1 GiB);
   * from 2 MiB on, aligned to 2 MiB and on transparent huge pages where the kernel grants them. */
  alignedBuffer(bytes: number): ArrayBuffer;
  /** Sets or clears O_DIRECT on an open file; false where the file system refuses it. */
  setDirectIo(fd: number, on: boolean): boolean;
  /** rtn; with importance (one value >= 0 per weight) each group's scale minimises the importance-weighted error.
   * dtype (default F32): weights as f32, or the 16-bit patterns of BF16/F16 (converted on the job's threads);
   * measure: the job also decodes, rounds to dtype and resolves with the error sums against the weights. */
  rtnEncode(args: RtnEncodeArgs & { measure: true }, onProgress?: ProgressCallback): NativeJobHandle<ErrorSums>;
  rtnEncode(args: RtnEncodeArgs, onProgress?: ProgressCallback): NativeJobHandle<void>;
  rtnDecode(
    args: { out: Float32Array | Uint16Array; dtype?: TernaryDtype; bits: number; group: number; codes: Uint8Array; scales: Uint16Array; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** The rotation of :rot, in place (binding/cpu/quant/hadamard.h): x as rows of `period` values,
   * each cut into blocks of `block` (a power of two, 2-4096) rotated with the multipliers of
   * `seed`; inverse undoes it. */
  hadamardRotate(
    args: { x: Float32Array; period: number; block: number; seed: number; inverse?: boolean; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** A tensor's statistics; with a reconstruction, the error statistics of it. Elements are f32,
   * or 16-bit patterns of the dtype given (read as f32 exactly: the same result). Positional
   * arguments: on the calling thread (small arrays); named: a job on `threads` threads, with the
   * same figures (binding/cpu/quant/error_stats.h). */
  tensorStats(weights: Float32Array): WeightStats;
  tensorStats(weights: Uint16Array, reconstructed: undefined, dtype: 'BF16' | 'F16'): WeightStats;
  tensorStats(original: Float32Array, reconstructed: Float32Array): ErrorSums;
  tensorStats(original: Uint16Array, reconstructed: Uint16Array, dtype: 'BF16' | 'F16'): ErrorSums;
  tensorStats(args: { weights: TernaryWeights; dtype?: TernaryDtype; threads?: number }, onProgress?: ProgressCallback): NativeJobHandle<WeightStats>;
  tensorStats(args: { weights: TernaryWeights; reconstructed: TernaryWeights; dtype?: TernaryDtype; threads?: number }, onProgress?: ProgressCallback): NativeJobHandle<ErrorSums>;
  /** ternary, :opt with rounds; with importance (group scales only) each refined scale is chosen by the importance-weighted error.
   * measure: the job also decodes and resolves with the error sums against the weights. */
  ternaryEncode(args: TernaryEncodeArgs & { measure: true }, onProgress?: ProgressCallback): NativeJobHandle<ErrorSums>;
  ternaryEncode(args: TernaryEncodeArgs, onProgress?: ProgressCallback): NativeJobHandle<void>;
  ternaryDecode(args: TernaryArrays & { out: TernaryWeights; threads?: number } & DeviceOptions, onProgress?: ProgressCallback): NativeJobHandle<void>;
  // seedlm (binding/cpu/quant/seedlm.h): fields hold (P + 1) bytes per block: e4, then q_p as int8.
  /** keep 0 (default): exhaustive search; keep K (1..32): the approximate mode's K best seeds by least-squares error. */
  seedlmEncode(
    args: { weights: Float32Array; C: number; P: number; eMin: number; keep?: number; seeds: Uint16Array; fields: Uint8Array; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  seedlmDecode(
    args: { out: Float32Array; C: number; P: number; eMin: number; seeds: Uint16Array; fields: Uint8Array; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** The tables' worst inverse error, the LFSR's 65535 states in cycle order (the states after seed s
   * follow s) and, given a tensor's max |w|, its exponent base eMin. */
  seedlmTables(C: number, P: number): { worstInverseError: number; cycle: Uint16Array };
  seedlmTables(C: number, P: number, absMax: number): { worstInverseError: number; cycle: Uint16Array; eMin: number };
  // k-means (binding/cpu/quant/kmeans.h): points are n·v f32 values, row-major; weights one per point.
  kmeansTrain(
    args: {
      points: Float32Array; v: number; k: number; weights?: Float32Array;
      iterations?: number; tolerance?: number; seed?: number; sample?: number; initSample?: number; threads?: number;
    } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<{ centroids: Float32Array; objective: number[]; repaired: number }>;
  kmeansAssign(
    args: { points: Float32Array; v: number; centroids: Float32Array; labels: Uint32Array; threads?: number } & DeviceOptions,
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  /** One Lloyd update in place on centroids (k x v) for the labels. */
  kmeansUpdate(args: { points: Float32Array; v: number; labels: Uint32Array; centroids: Float32Array; weights?: Float32Array }): { objective: number; repaired: number };
  // vptq (binding/cpu/quant/vptq.h): weights/out are rows x cols f32; one label per vector.
  vptqGather(args: { weights: Float32Array; cols: number; v: number; scale?: Float32Array; bias?: Float32Array }): Float32Array;
  vptqEncode(args: VptqArrays & { weights: Float32Array; recon: Float32Array; threads?: number } & DeviceOptions, onProgress?: ProgressCallback): NativeJobHandle<void>;
  vptqDecode(args: VptqArrays & { out: Float32Array; threads?: number } & DeviceOptions, onProgress?: ProgressCallback): NativeJobHandle<void>;
  /** The bench's limits: 'fma', f32 GFLOP/s of 8-wide FMAs on `threads` threads (NaN without AVX2/FMA);
   * 'cuda-copy', device-to-device bytes read + written per second (throws without the CUDA backend). */
  measurePeak(args: { kind: 'fma'; threads: number; seconds: number } | { kind: 'cuda-copy'; device: number; bytes: number }): number;
  // Forward pass (binding/llama_binding.cc). Weights are [out, in] row-major f32.
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
  jobSelfTest(
    options: { steps?: number; stepMs?: number; failAt?: number },
    onProgress?: ProgressCallback,
  ): NativeJobHandle<number>;
}

/** The package root (holds package.json and a source build's build/), from dist/lib/. */
export const packageRoot = path.resolve(__dirname, '..', '..');
/** This package's version, from its package.json. */
export const packageVersion: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

/** An addon built for another version of the package (a stale platform package, or build/ from an
 * older checkout) may not match this JS: refused, saying how to get a matching one. */
export function checkAddonVersion(built: unknown, file: string, expected = packageVersion): void {
  if (built !== expected)
    throw new Error(
      `tensorzip: the native addon ${file} was built for tensorzip ${typeof built === 'string' ? built : '(unknown version)'}, ` +
        `but this package is ${expected}. Install the matching platform package (npm install tensorzip@${expected}), or rebuild it: npx tensorzip build.`,
    );
}

/** Compares dotted versions: < 0, 0 or > 0. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  return 0;
}

/** A platform package records the newest glibc it needs (scripts/prebuild.js); an older system
 * glibc would fail inside dlopen with a cryptic symbol error, so it is refused first, saying why. */
export function checkPrebuildGlibc(needed: string | undefined, runtime: string | undefined, file: string): void {
  if (!needed || !runtime) return; // a source build, or not glibc
  if (compareVersions(runtime, needed) < 0)
    throw new Error(`tensorzip: the prebuilt addon ${file} needs glibc >= ${needed}, but this system has glibc ${runtime}. Instead, ${BUILD_FROM_SOURCE}.`);
}

/** The C library's version where it is glibc (undefined on musl and other systems). */
function glibcRuntime(): string | undefined {
  return (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
}

function load(): NativeBinding {
  const runtime = glibcRuntime();
  const where = locateAddon(packageRoot, process.platform, process.arch, runtime !== undefined, (name) => resolvePackageDir(name, packageRoot));
  if (where.kind === 'package') checkPrebuildGlibc(where.glibc, runtime, where.file);
  let binding: NativeBinding & { version?: unknown };
  try {
    binding = require(where.file) as NativeBinding;
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`tensorzip: could not load the native addon ${where.file} (${reason}). ${where.kind === 'source' ? 'Rebuild it: npx tensorzip build' : `Reinstall tensorzip, or ${BUILD_FROM_SOURCE}`}.`);
  }
  checkAddonVersion(binding.version, where.file);
  return binding;
}

let loaded: NativeBinding | undefined;
/** The addon, loaded on first use: the commands that need none (--help, --version, build) run
 * without it, and a missing addon is one error in words through the command's own reporting. */
export const native: NativeBinding = new Proxy({} as NativeBinding, {
  get: (_target, key) => Reflect.get((loaded ??= load()), key),
  has: (_target, key) => Reflect.has((loaded ??= load()), key),
});

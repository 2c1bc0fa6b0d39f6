// `bench kernels --device cuda`: the kernels the native API runs on a GPU when a call carries
// `device: { cuda }` (binding/backend_table.cc), on the inputs of their CPU suites, with ids of
// their own (`cuda.<suite>.…`). The data starts and ends in host memory, as in the pipeline, so
// each time includes the transfers. Memory-bound kernels are judged as % of the GPU's
// device-to-device copy bandwidth measured in the same run, compute-bound ones (the SeedLM search,
// k-means) as a rate per GB/s of it. A call the backend table runs on the CPU instead (a fallback)
// is reported as such, never timed as the GPU's.
import { compressPieces, decompressPieces, parseStage } from '../../container/stage';
import { runJob } from '../../jobs';
import { lossless } from '../../methods/lossless';
import { fromF32 } from '../../methods/f32';
import { packedBytes } from '../../methods/method';
import { INIT_PER_CENTROID } from '../../methods/vptq';
import { native, type ConvertKind, type NativeDevice } from '../../native';
import { Rng, weightMatrix } from '../../core/random';
import { ASSIGN, ITERATIONS, K, SAMPLE, V } from './kmeans.bench';
import { measure } from './measure';
import { SETTINGS as RTN_SETTINGS } from './rtn.bench';
import { gpuBandwidthRow, gpuRateRow, infoRow, type BenchContext, type BenchRow } from './row';
import { flopsPerTrial, PRESETS as SEEDLM_PRESETS, SEEDS } from './seedlm.bench';
import type { SuiteName } from '../presets';

type Timing = { seconds: number } | { onCpu: string };
type GpuRun = (device: NativeDevice) => Promise<unknown>;

/** `run` on GPU `cuda`, timed; or, when the backend table placed any of it on the CPU, why. The
 * first call is untimed: it shows a fallback before anything is timed and pays the GPU's start. */
async function timeOnGpu(cuda: number, what: string, run: GpuRun, options?: { time: number; iterations: number }): Promise<Timing> {
  let onCpu: string | undefined;
  const device: NativeDevice = { cuda, onFallback: (capability, reason) => (onCpu ??= `${capability}: ${reason}`) };
  await run(device);
  if (onCpu) return { onCpu };
  return { seconds: await measure(`${what} on GPU ${cuda}`, () => run(device), options) };
}

/** The timed GPU row `row` makes, or, unjudged, the same row saying that the work ran on the CPU. */
function gpuRow(t: Timing, row: (seconds: number) => BenchRow): BenchRow {
  if ('seconds' in t) return row(t.seconds);
  const { id, name } = row(NaN);
  return { ...infoRow(id, `${name}: ran on the CPU (${t.onCpu}), not timed`, NaN, '-'), device: 'cuda' };
}

/** An encode and a decode, each moving `traffic` bytes (read + written), timed on the GPU: two rows. */
async function codecRows(gpu: number, limits: BenchContext['limits'], id: string, what: string, traffic: number, steps: { encode: GpuRun; decode: GpuRun }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const step of ['encode', 'decode'] as const) {
    const t = await timeOnGpu(gpu, `${what} ${step}`, steps[step]);
    rows.push(gpuRow(t, (s) => gpuBandwidthRow(`${id}.${step}`, `${what} ${step} on GPU ${gpu}`, traffic / s, limits)));
  }
  return rows;
}

async function convertRows({ limits, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const n = 1536 * 8960;
  const f32 = weightMatrix(1536, 8960, 3);
  const u16 = new Uint16Array(n);
  native.kernelRow('f32_to_bf16', { src: f32, dst: u16 });
  const rows: BenchRow[] = [];
  for (const kind of ['f32_to_bf16', 'bf16_to_f32', 'f32_to_f16', 'f16_to_f32'] as ConvertKind[]) {
    const [src, dst] = kind.startsWith('f32') ? [f32, new Uint16Array(n)] : [u16, new Float32Array(n)];
    const t = await timeOnGpu(gpu, kind, (device) => runJob((p) => native.convert({ kind, src, dst, device }, p)));
    rows.push(gpuRow(t, (s) => gpuBandwidthRow(`cuda.convert.${kind}`, `${kind} 1536x8960 on GPU ${gpu}`, (6 * n) / s, limits)));
  }
  return rows;
}

async function rtnRows({ limits, threads, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const w = weightMatrix(1536, 8960, 9);
  const n = w.length;
  const out = new Float32Array(n);
  const rows: BenchRow[] = [];
  for (const { bits, group } of RTN_SETTINGS) {
    const codes = new Uint8Array(packedBytes(n, bits));
    const scales = new Uint16Array(n / group);
    const traffic = 4 * n + codes.length + 2 * scales.length;
    const what = `rtn:${bits}:g${group} 1536x8960 f32`;
    const id = `cuda.rtn.${bits}.g${group}`;
    rows.push(
      ...(await codecRows(gpu, limits, id, what, traffic, {
        encode: (device) => runJob((p) => native.rtnEncode({ weights: w, bits, group, codes, scales, threads, device }, p)),
        decode: (device) => runJob((p) => native.rtnDecode({ out, bits, group, codes, scales, threads, device }, p)),
      })),
    );
  }
  return rows;
}

async function ternaryRows({ limits, threads, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const n = 1536 * 8960;
  const bf16 = new Uint16Array(n);
  native.kernelRow('f32_to_bf16', { src: weightMatrix(1536, 8960, 5), dst: bf16 });
  const out = new Uint16Array(n);
  const rows: BenchRow[] = [];
  for (const packing of [3, 2] as const) {
    const packed = new Uint8Array(Math.ceil(n / (packing === 3 ? 5 : 4)));
    const scales = new Uint16Array(Math.ceil(n / 256));
    const traffic = 2 * n + packed.length + 2 * scales.length;
    const what = `ternary 1536x8960 bf16 g256 p${packing}`;
    const id = `cuda.ternary.1536x8960.p${packing}`;
    const args = { dtype: 'BF16' as const, group: 256, packing, packed, scales, threads };
    rows.push(
      ...(await codecRows(gpu, limits, id, what, traffic, {
        encode: (device) => runJob((p) => native.ternaryEncode({ ...args, weights: bf16, device }, p)),
        decode: (device) => runJob((p) => native.ternaryDecode({ ...args, out, device }, p)),
      })),
    );
  }
  return rows;
}

/** The exhaustive search (the approximate :fast one has no CUDA kernel) over 65,536 blocks: enough
 * to fill a large GPU, about 4 % of a 1536 x 8960 tensor's blocks at C 8. */
async function seedlmRows({ limits, threads, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const blocks = 1 << 16;
  for (const { spec, C, P } of SEEDLM_PRESETS) {
    const w = weightMatrix(blocks, C, 13);
    const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
    const seeds = new Uint16Array(blocks);
    const fields = new Uint8Array(blocks * (P + 1));
    const t = await timeOnGpu(gpu, `${spec} search`, (device) => runJob((p) => native.seedlmEncode({ weights: w, C, P, eMin, seeds, fields, threads, device }, p)), { time: 1, iterations: 3 });
    const id = `cuda.seedlm.${spec.replace('seedlm:', '')}.search`;
    const name = `${spec} (C ${C}, P ${P}) exhaustive search of ${blocks} blocks on GPU ${gpu}: effective arithmetic`;
    rows.push(gpuRow(t, (s) => gpuRateRow(id, name, (blocks * SEEDS * flopsPerTrial(C, P, false)) / s / 1e9, 'GFLOP/s', limits)));
  }
  return rows;
}

/** The k-means problem of the CPU suite (docs/BENCHMARKS.md), counted the same way. */
async function kmeansRows({ limits, threads, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const r = new Rng(21);
  const sample = Float32Array.from({ length: SAMPLE * V }, () => r.normal() * 0.02);
  const vectors = Float32Array.from({ length: ASSIGN * V }, () => r.normal() * 0.02);
  let centroids: Float32Array = new Float32Array(0); // the GPU's training's, for the assignment
  const train = async (device: NativeDevice) => {
    ({ centroids } = await runJob((p) => native.kmeansTrain({ points: sample, v: V, k: K, iterations: ITERATIONS, tolerance: 0, initSample: INIT_PER_CENTROID * K, threads, device }, p)));
  };
  const tTrain = await timeOnGpu(gpu, 'k-means train', train, { time: 1, iterations: 2 });
  const labels = new Uint32Array(ASSIGN);
  const tAssign = await timeOnGpu(gpu, 'k-means assign', (device) => runJob((p) => native.kmeansAssign({ points: vectors, v: V, centroids, labels, threads, device }, p)));
  const trainName = `k-means train ${SAMPLE} x d${V} -> k ${K}, ${ITERATIONS} Lloyd iterations on GPU ${gpu} (k-means++ start on the CPU); effective`;
  const assignName = `k-means assignment of ${ASSIGN} vectors on GPU ${gpu}`;
  return [
    gpuRow(tTrain, (s) => gpuRateRow('cuda.kmeans.train', trainName, (ITERATIONS * 2 * SAMPLE * K * V) / s / 1e9, 'GFLOP/s', limits)),
    gpuRow(tAssign, (s) => gpuRateRow('cuda.kmeans.assign', assignName, (2 * ASSIGN * K * V) / s / 1e9, 'GFLOP/s', limits)),
  ];
}

/** The rANS coder over the byte planes of the lzma suite's bf16 tensor (4096 x 1536): the blocks
 * of every piece in one call on the GPU, frames planned and assembled on the CPU. */
async function ransRows({ limits, threads, cuda: gpu = 0 }: BenchContext): Promise<BenchRow[]> {
  const raw = fromF32('BF16', weightMatrix(4096, 1536, 11));
  const { streams } = await lossless.encode({}, 'BF16', raw, { threads }, { shape: [raw.length / 2], absMean: 0, absMax: 0, first: 0 });
  const rans = parseStage('rans', undefined);
  let stored = await compressPieces(streams, rans, 'tensor', threads);
  // Throughput as the CPU suite counts it: raw (uncompressed) bytes per second.
  return codecRows(gpu, limits, 'cuda.rans.lossless', 'lossless bf16 4096x1536, rANS', raw.length, {
    encode: async (device) => (stored = await compressPieces(streams, rans, 'tensor', threads, undefined, undefined, device)),
    decode: (device) => decompressPieces(stored, { threads, device }),
  });
}

/** Each suite's GPU rows; CUDA_SUITES (lib/tools/presets.ts) names the suites that have some. */
export const GPU_SUITES: Partial<Record<SuiteName, (ctx: BenchContext) => Promise<BenchRow[]>>> = {
  convert: convertRows,
  rtn: rtnRows,
  ternary: ternaryRows,
  seedlm: seedlmRows,
  kmeans: kmeansRows,
  lzma: ransRows,
};

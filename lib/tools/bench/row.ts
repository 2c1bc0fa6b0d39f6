// One benchmark result. `id` is stable across runs and machines (no measured values in it) and
// keys --compare; `score` is what --compare judges: the % of the machine's limit for kernels, a
// rate per unit of CPU speed where no hardware limit applies (LZMA), or the figure itself for
// deterministic results (errors, ratios), which must not get worse.
import type { Limits } from './limits';

export type Judge = 'higher' | 'lower' | 'info';

export interface BenchRow {
  id: string;
  /** What the table prints: may carry measured values (objectives, ratios). */
  name: string;
  value: number;
  unit: string;
  /** Percent of the limit the row is judged against (NaN when none applies). */
  pctOfLimit: number;
  limit: string;
  score: number;
  judge: Judge;
  /** The part of the run that made the row: a kernel suite ('limits' for the limits, which every
   * run measures) or, in `bench e2e`, the method spec. Set by the runner; --compare expects only
   * the baseline rows of the parts that ran. */
  suite?: string;
  /** Where a timed row ran, where a run may use either: 'cuda' for the GPU (ids `cuda.…`,
   * `e2e.….cuda`), 'cpu' for e2e's CPU timings. Absent: the kernels' CPU rows, and figures that
   * are the same on every device (an e2e container's ratio and error). */
  device?: 'cpu' | 'cuda';
  /** A path this machine does not use (the forced scalar kernels where AVX2 runs): compared and
   * printed, but its regression fails --compare only when asked (--gate-scalar). */
  fallback?: boolean;
}

export interface BenchContext {
  threads: number;
  limits: Limits;
  /** Run peers (xz, numpy, scikit-learn, faiss) when installed. */
  peers: boolean;
  /** The GPU of a `--device cuda` run (its rows come from lib/tools/bench/gpu.bench.ts). */
  cuda?: number;
}

/** A kernel judged against a limit measured in the same run: compared by its % of that limit. */
export function limitRow(id: string, name: string, value: number, unit: string, pct: number, limit: string): BenchRow {
  return { id, name, value, unit, pctOfLimit: pct, limit, score: pct, judge: 'higher' };
}

/** Printed, never judged: peers, seconds, figures that depend on the machine's core count. */
export function infoRow(id: string, name: string, value: number, unit: string, limit = '-'): BenchRow {
  return { id, name, value, unit, pctOfLimit: NaN, limit, score: NaN, judge: 'info' };
}

/** A deterministic figure (relative error, ratio): the same on every machine, so judged as is. */
export function figureRow(id: string, name: string, value: number, unit: string, judge: 'higher' | 'lower'): BenchRow {
  return { id, name, value, unit, pctOfLimit: NaN, limit: '-', score: value, judge };
}

/** Bytes per second judged against copy bandwidth on the same number of threads. */
export function bandwidthRow(id: string, name: string, bytesPerSecond: number, limits: Limits, threads: number): BenchRow {
  const copy = threads === 1 ? limits.copy1 : limits.copyAll;
  return limitRow(id, name, bytesPerSecond / 1e9, 'GB/s', (100 * bytesPerSecond) / copy, `copy ${threads === 1 ? '1 thread' : `${threads} threads`}`);
}

/** GFLOP/s judged against the FMA peak on the same number of threads. */
export function flopsRow(id: string, name: string, gflops: number, limits: Limits, threads: number): BenchRow {
  const peak = threads === 1 ? limits.fma1 : limits.fmaAll;
  return limitRow(id, name, gflops, 'GFLOP/s', (100 * gflops) / peak, `FMA peak ${threads === 1 ? '1 thread' : `${threads} threads`}`);
}

export const threadWord = (t: number) => (t === 1 ? '1 thread' : `${t} threads`);

/** Compressed-stream coding (LZMA) has no hardware limit to be a % of: --compare judges its MB/s
 * per GFLOP/s of the 1-thread FMA peak, a yardstick of the CPU's speed measured in the same run. */
export function cpuRateRow(id: string, name: string, bytesPerSecond: number, limits: Limits): BenchRow {
  return { id, name, value: bytesPerSecond / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: 'per FMA peak (1 thread)', score: bytesPerSecond / 1e6 / limits.fma1, judge: 'higher' };
}

/** A GPU kernel (data in host memory, as the pipeline calls it) in bytes read + written per second,
 * as % of the GPU's device-to-device copy bandwidth measured in the same run: the host transfers
 * inside the call keep this share well below 100 %, but it is a stable yardstick per machine. */
export function gpuBandwidthRow(id: string, name: string, bytesPerSecond: number, limits: Limits): BenchRow {
  const copy = 'bytesPerSecond' in limits.gpuCopy ? limits.gpuCopy.bytesPerSecond : NaN;
  return { ...limitRow(id, name, bytesPerSecond / 1e9, 'GB/s', (100 * bytesPerSecond) / copy, 'GPU copy (device to device); host transfers included'), device: 'cuda' };
}

/** A compute-bound GPU kernel (a search, k-means) has no copy share to speak of: --compare judges
 * its rate per GB/s of the GPU's copy bandwidth, a yardstick of the GPU measured in the same run
 * (as cpuRateRow's per FMA peak on the CPU). */
export function gpuRateRow(id: string, name: string, value: number, unit: string, limits: Limits): BenchRow {
  const copy = 'bytesPerSecond' in limits.gpuCopy ? limits.gpuCopy.bytesPerSecond / 1e9 : NaN;
  return { id, name, value, unit, pctOfLimit: NaN, limit: 'per GB/s of GPU copy', score: value / copy, judge: 'higher', device: 'cuda' };
}

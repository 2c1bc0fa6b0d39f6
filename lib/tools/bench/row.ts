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
}

export interface BenchContext {
  threads: number;
  limits: Limits;
  /** Run peers (xz, numpy, scikit-learn, faiss) when installed. */
  peers: boolean;
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

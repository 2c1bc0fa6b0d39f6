// --compare: each row of this run against the same row (by id) of a baseline JSON. Kernels are
// compared by their % of the machine's limit, so a baseline from another machine still means
// something; deterministic figures (errors, ratios) by value. A row regresses when its score
// falls (or, for errors, rises) by more than its tolerance.
import type { BenchRow } from './row';

export interface RecordedRow extends BenchRow {
  /** max/min − 1 of the score over the runs that made this row (0 for one run). */
  spread: number;
  /** Each run's score and value, in run order. */
  scores: number[];
  values: number[];
}

export interface BenchFile {
  date: string;
  machine: string;
  threads: number;
  runs: number;
  rows: RecordedRow[];
}

/** A timed row's tolerance is 2x the spread of its score over the baseline's 3 runs, at least
 * NOISE_FLOOR and at most NOISE_CAP. On the 2-vCPU VM the baseline comes from, the median spread
 * over 3 whole-suite runs was 21 %, and the medians of two independent 3-run sets differed by up
 * to 31 % on a row whose spread was 21 % (docs/BENCHMARKS.md, "Noise"): hence medians of 3 runs
 * on both sides, 2x rather than 1.5x, and a cap so that halving a throughput always fails. */
export const SPREAD_FACTOR = 2;
export const NOISE_FLOOR = 0.25;
export const NOISE_CAP = 0.5;
/** Deterministic figures may only move by rounding (e.g. a different libm). */
export const FIGURE_TOLERANCE = 0.005;

export type Verdict = 'ok' | 'regressed' | 'improved' | 'new' | 'not run';

export interface Comparison {
  id: string;
  name: string;
  baseline: number;
  now: number;
  /** now / baseline, oriented so that > 1 is better. */
  change: number;
  tolerance: number;
  verdict: Verdict;
}

const timed = (r: BenchRow) => Number.isFinite(r.pctOfLimit) || r.limit.startsWith('per ');

export function tolerance(base: RecordedRow): number {
  return timed(base) ? Math.min(NOISE_CAP, Math.max(NOISE_FLOOR, SPREAD_FACTOR * (base.spread || 0))) : FIGURE_TOLERANCE;
}

export function compareRuns(baseline: BenchFile, now: RecordedRow[]): Comparison[] {
  const base = new Map(baseline.rows.filter((r) => r.judge !== 'info').map((r) => [r.id, r]));
  const out: Comparison[] = [];
  for (const r of now) {
    if (r.judge === 'info') continue;
    const b = base.get(r.id);
    if (!b) {
      out.push({ id: r.id, name: r.name, baseline: NaN, now: r.score, change: NaN, tolerance: NaN, verdict: 'new' });
      continue;
    }
    base.delete(r.id);
    if (!Number.isFinite(r.score)) {
      // e.g. an FMA-peak share on a CPU without AVX2/FMA, where the peak cannot be measured
      out.push({ id: r.id, name: r.name, baseline: b.score, now: r.score, change: NaN, tolerance: NaN, verdict: 'not run' });
      continue;
    }
    const change = r.judge === 'lower' ? b.score / r.score : r.score / b.score;
    const tol = tolerance(b);
    const verdict: Verdict = !(change >= 1 - tol) ? 'regressed' : change > 1 + tol ? 'improved' : 'ok';
    out.push({ id: r.id, name: r.name, baseline: b.score, now: r.score, change, tolerance: tol, verdict });
  }
  for (const b of base.values()) out.push({ id: b.id, name: b.name, baseline: b.score, now: NaN, change: NaN, tolerance: NaN, verdict: 'not run' });
  return out;
}

/** Rows of several runs of the same suites, merged by id: the median score (and its row), and the spread. */
export function mergeRuns(runs: BenchRow[][]): RecordedRow[] {
  const ids = runs[0].map((r) => r.id);
  return ids.map((id) => {
    const rows = runs.map((rs) => rs.find((r) => r.id === id)).filter((r): r is BenchRow => !!r);
    const history = { scores: rows.map((r) => r.score), values: rows.map((r) => r.value) };
    const scored = rows.filter((r) => Number.isFinite(r.score)).sort((a, b) => a.score - b.score);
    if (!scored.length) return { ...rows[rows.length - 1], spread: 0, ...history };
    const median = scored[(scored.length - 1) >> 1];
    const lo = scored[0].score, hi = scored[scored.length - 1].score;
    return { ...median, spread: lo > 0 ? hi / lo - 1 : 0, ...history };
  });
}

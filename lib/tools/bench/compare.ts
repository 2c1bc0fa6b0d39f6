// --compare: each row of this run against the same row (by id) of a baseline JSON. Kernels are
// compared by their % of the machine's limit, so a baseline from another machine still means
// something; deterministic figures (errors, ratios) by value. A row regresses when its score
// falls (or, for errors, rises) by more than its tolerance; a regressed row gates (the command
// exits 4) unless it times a path this machine does not use (row.fallback) and --gate-scalar is off.
import type { BenchRow } from './row';
import { suiteOf } from './suites';

export interface RecordedRow extends BenchRow {
  /** max/min − 1 of the score over the runs that made this row (0 for one run). */
  spread: number;
  /** Each run's score and value, in run order. */
  scores: number[];
  values: number[];
}

export interface BenchFile {
  /** What wrote it: `bench kernels` (absent in files written before `bench e2e` had a baseline) or `bench e2e`. */
  kind?: 'kernels' | 'e2e';
  date: string;
  machine: string;
  threads: number;
  runs: number;
  /** 'cpu', or the GPU a `--device cuda` run used. */
  device?: string;
  /** A `--smoke` run: each figure from one timing. */
  smoke?: boolean;
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
  /** Whether a regression of this row fails the comparison (a fallback row's does only with --gate-scalar). */
  gated: boolean;
}

export interface CompareOptions {
  /** The baseline rows this run was expected to make again (those of the suites, methods and
   * device that ran); the others are left out, not listed as 'not run'. Default: every row. */
  expected?: (row: RecordedRow) => boolean;
  /** Gate the fallback rows too (--gate-scalar); by default they are compared and printed only. */
  gateFallback?: boolean;
}

const timed = (r: BenchRow) => Number.isFinite(r.pctOfLimit) || r.limit.startsWith('per ');

export function tolerance(base: RecordedRow): number {
  return timed(base) ? Math.min(NOISE_CAP, Math.max(NOISE_FLOOR, SPREAD_FACTOR * (base.spread || 0))) : FIGURE_TOLERANCE;
}

export function compareRuns(baseline: BenchFile, now: RecordedRow[], { expected = () => true, gateFallback = false }: CompareOptions = {}): Comparison[] {
  const base = new Map(baseline.rows.filter((r) => r.judge !== 'info' && expected(r)).map((r) => [r.id, r]));
  const out: Comparison[] = [];
  const missing = (id: string, name: string, b: number, n: number, verdict: Verdict): Comparison => ({ id, name, baseline: b, now: n, change: NaN, tolerance: NaN, verdict, gated: false });
  for (const r of now) {
    if (r.judge === 'info') continue;
    const b = base.get(r.id);
    if (!b) {
      out.push(missing(r.id, r.name, NaN, r.score, 'new'));
      continue;
    }
    base.delete(r.id);
    if (!Number.isFinite(r.score) || !Number.isFinite(b.score)) {
      // e.g. an FMA-peak share on a CPU without AVX2, where the peak cannot be measured
      out.push(missing(r.id, r.name, b.score, r.score, 'not run'));
      continue;
    }
    // Equal scores are no change, also where both are 0 (a lossless row's error).
    const change = r.score === b.score ? 1 : r.judge === 'lower' ? b.score / r.score : r.score / b.score;
    const tol = tolerance(b);
    const verdict: Verdict = !(change >= 1 - tol) ? 'regressed' : change > 1 + tol ? 'improved' : 'ok';
    out.push({ id: r.id, name: r.name, baseline: b.score, now: r.score, change, tolerance: tol, verdict, gated: !r.fallback || gateFallback });
  }
  for (const b of base.values()) out.push(missing(b.id, b.name, b.score, NaN, 'not run'));
  return out;
}

/** CompareOptions.expected for a run that made `now`: the baseline rows of a suite (or e2e method)
 * that ran, on the same device (row.device). The limits are measured by every run. */
export function madeBy(now: RecordedRow[]): (row: RecordedRow) => boolean {
  const key = (r: RecordedRow) => `${suiteOf(r)} ${r.device ?? '-'}`;
  const ran = new Set(now.map(key));
  return (r) => ran.has(key(r));
}

/** The rows whose regression fails the comparison. */
export const regressions = (result: Comparison[]) => result.filter((c) => c.verdict === 'regressed' && c.gated);

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** The comparison as a table, then the verdict in one line. */
export function formatComparison(result: Comparison[], baseline: BenchFile, file: string): string {
  const idWidth = Math.max(44, ...result.map((c) => c.id.length));
  const lines = [
    `compared with ${file} (${baseline.machine}, ${baseline.date}); change > 1 is better`,
    `${'row'.padEnd(idWidth)} ${'baseline'.padStart(10)} ${'now'.padStart(10)} ${'change'.padStart(8)} ${'tolerance'.padStart(9)}  verdict`,
    ...result.map(
      (c) =>
        `${c.id.padEnd(idWidth)} ${fmt(c.baseline, 4).padStart(10)} ${fmt(c.now, 4).padStart(10)} ${fmt(c.change, 3).padStart(8)} ` +
        `${(Number.isFinite(c.tolerance) ? `±${(100 * c.tolerance).toFixed(1)}%` : '-').padStart(9)}  ${c.verdict}${c.verdict === 'regressed' && !c.gated ? ' (not gated: a path this machine does not use; --gate-scalar gates it)' : ''}`,
    ),
  ];
  const bad = regressions(result);
  lines.push('', bad.length ? `${bad.length} row(s) regressed: ${bad.map((c) => c.id).join(', ')}` : 'no row regressed');
  return lines.join('\n');
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

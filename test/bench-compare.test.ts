// bench --compare's judgement (lib/tools/bench/compare.ts), on made-up rows: timings are compared as % of
// the limit with a tolerance from the baseline's own spread, deterministic figures by value.
import { strict as assert } from 'node:assert';
import { compareRuns, FIGURE_TOLERANCE, mergeRuns, NOISE_CAP, NOISE_FLOOR, type BenchFile, type RecordedRow } from '../lib/tools/bench/compare';
import { cpuRateRow, figureRow, infoRow, limitRow, type BenchRow } from '../lib/tools/bench/row';
import type { Limits } from '../lib/tools/bench/limits';

const limits: Limits = { fma1: 100, fmaAll: 200, copy1: 30e9, copyAll: 50e9, copyBytes: 1 << 20, gpuCopy: { unavailable: 'none' } };
const kernel = (pct: number) => limitRow('k', 'kernel', pct / 10, 'GB/s', pct, 'copy 1 thread');
const error = (e: number) => figureRow('e', 'rel. error', e, 'rel.err', 'lower');
const file = (rows: RecordedRow[]): BenchFile => ({ date: 'then', machine: 'm', threads: 2, runs: 3, rows });
const recorded = (r: BenchRow, spread = 0): RecordedRow => ({ ...r, spread, scores: [r.score], values: [r.value] });

describe('bench --compare', () => {
  it('a timed row regresses only past its tolerance: 2x its baseline spread, within the floor and the cap', () => {
    const base = file([recorded(kernel(50))]);
    assert.equal(compareRuns(base, [recorded(kernel(50 * (1 - NOISE_FLOOR) + 0.01))])[0].verdict, 'ok');
    assert.equal(compareRuns(base, [recorded(kernel(50 * (1 - NOISE_FLOOR) - 0.01))])[0].verdict, 'regressed');
    assert.equal(compareRuns(base, [recorded(kernel(80))])[0].verdict, 'improved');
    const noisy = file([recorded(kernel(50), 0.2)]); // tolerance 40 %
    assert.equal(compareRuns(noisy, [recorded(kernel(30.5))])[0].verdict, 'ok');
    assert.equal(compareRuns(noisy, [recorded(kernel(29.5))])[0].verdict, 'regressed');
    const wild = file([recorded(kernel(50), 2)]); // capped: half the throughput always fails
    assert.equal(compareRuns(wild, [recorded(kernel(50 * (1 - NOISE_CAP) + 0.01))])[0].verdict, 'ok');
    assert.equal(compareRuns(wild, [recorded(kernel(50 * (1 - NOISE_CAP) - 0.01))])[0].verdict, 'regressed');
  });

  it('errors must not rise and ratios must not fall beyond rounding', () => {
    const base = file([recorded(error(0.1)), recorded(figureRow('r', 'ratio', 1.49, 'x', 'higher'))]);
    const [e, r] = compareRuns(base, [recorded(error(0.1 * (1 + FIGURE_TOLERANCE / 2))), recorded(figureRow('r', 'ratio', 1.4, 'x', 'higher'))]);
    assert.equal(e.verdict, 'ok');
    assert.equal(r.verdict, 'regressed');
    assert.equal(compareRuns(base, [recorded(error(0.102))])[0].verdict, 'regressed');
  });

  it('LZMA rows are judged per unit of CPU speed, so a slower CPU is not a regression', () => {
    const fast = cpuRateRow('z', 'lzma', 20e6, limits);
    const slow = cpuRateRow('z', 'lzma', 10e6, { ...limits, fma1: 50 }); // half the speed on half the CPU
    assert.equal(compareRuns(file([recorded(fast)]), [recorded(slow)])[0].verdict, 'ok');
    assert.equal(compareRuns(file([recorded(fast)]), [recorded(cpuRateRow('z', 'lzma', 10e6, limits))])[0].verdict, 'regressed');
  });

  it('peers are not judged; new and missing rows are reported, not failed', () => {
    const base = file([recorded(kernel(50)), recorded(infoRow('p', 'xz', 1, 'MB/s', 'peer'))]);
    const out = compareRuns(base, [recorded(infoRow('p', 'xz', 0.1, 'MB/s', 'peer')), recorded({ ...error(0.1), id: 'new' })]);
    assert.deepEqual(out.map((c) => [c.id, c.verdict]), [['new', 'new'], ['k', 'not run']]);
    // A row this machine cannot score (no FMA peak without AVX2) is not a regression.
    assert.equal(compareRuns(base, [recorded(kernel(NaN))])[0].verdict, 'not run');
  });

  it('repeated runs merge to the median score and record the spread', () => {
    const merged = mergeRuns([[kernel(40), error(0.1)], [kernel(50), error(0.1)], [kernel(44), error(0.1)]]);
    assert.equal(merged[0].score, 44);
    assert.ok(Math.abs(merged[0].spread - 0.25) < 1e-12);
    assert.equal(merged[1].spread, 0);
  });
});

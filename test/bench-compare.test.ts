// bench --compare's judgement (lib/tools/bench/compare.ts), on made-up rows: timings are compared as % of
// the limit with a tolerance from the baseline's own spread, deterministic figures by value.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readBenchFile } from '../lib/tools/bench/bench-file';
import { compareRuns, FIGURE_TOLERANCE, madeBy, mergeRuns, NOISE_CAP, NOISE_FLOOR, regressions, type BenchFile, type RecordedRow } from '../lib/tools/bench/compare';
import type { E2eResult } from '../lib/tools/bench/e2e';
import { e2eRows } from '../lib/tools/bench/e2e-rows';
import { cpuRateRow, figureRow, gpuBandwidthRow, infoRow, limitRow, type BenchRow } from '../lib/tools/bench/row';
import type { Limits } from '../lib/tools/bench/limits';
import { LIMITS, suiteOf } from '../lib/tools/bench/suites';
import { SUITES } from '../lib/tools/presets';
import { root } from './helpers';

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

  it('with --only, only the baseline rows of the suites (and the device) that ran are expected; rows without a suite by their id', () => {
    const row = (id: string, suite?: string, device?: 'cuda'): RecordedRow => ({ ...recorded(limitRow(id, id, 1, 'GB/s', 50, 'copy 1 thread')), ...(suite ? { suite } : {}), ...(device ? { device } : {}) });
    const base = file([row('convert.a', 'convert'), row('rtn.b', 'rtn'), row('rtn.legacy'), row('method.vptq:2.error'), row('cuda.convert.a', 'convert', 'cuda'), row('limit.x', LIMITS)]);
    const now = [row('convert.a', 'convert'), row('limit.x', LIMITS)];
    assert.deepEqual(compareRuns(base, now, { expected: madeBy(now) }).map((c) => [c.id, c.verdict]), [['convert.a', 'ok'], ['limit.x', 'ok']]);
    // Without the filter (what a full run expects), every missing row is listed.
    assert.deepEqual(compareRuns(base, now).filter((c) => c.verdict === 'not run').map((c) => c.id), ['rtn.b', 'rtn.legacy', 'method.vptq:2.error', 'cuda.convert.a']);
    // A GPU run of the convert suite expects the baseline's GPU rows of it, not its CPU rows.
    const gpu = [row('cuda.convert.a', 'convert', 'cuda')];
    assert.deepEqual(compareRuns(base, gpu, { expected: madeBy(gpu) }).map((c) => c.id), ['cuda.convert.a']);
    assert.equal(suiteOf({ id: 'method.vptq:2.error' }), 'kmeans');
    assert.equal(suiteOf({ id: 'rans.exponent.encode' }), 'lzma');
  });

  it('every row of the committed baseline belongs to a suite; its nulls read back as NaN', () => {
    const base = readBenchFile(path.join(root, 'lib', 'tools', 'bench', 'baseline.json'), 'kernels');
    const known = new Set<string>([...SUITES, LIMITS]);
    assert.deepEqual(base.rows.filter((r) => !known.has(suiteOf(r) ?? '')).map((r) => r.id), []);
    const gpuLimit = base.rows.find((r) => r.id === 'limit.gpu-copy')!;
    assert.ok(Number.isNaN(gpuLimit.value) && Number.isNaN(gpuLimit.pctOfLimit));
  });

  it('a baseline is checked row by row when it is read', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tz-bench-file-'));
    try {
      const write = (name: string, content: unknown) => (writeFileSync(path.join(dir, name), JSON.stringify(content)), path.join(dir, name));
      const ok = readBenchFile(write('ok.json', { rows: [{ id: 'a', judge: 'lower', score: null, value: 1 }] }), 'kernels');
      assert.ok(Number.isNaN(ok.rows[0].score));
      assert.equal(ok.date, 'unknown date');
      assert.throws(() => readBenchFile(write('twice.json', { rows: [{ id: 'a', judge: 'info' }, { id: 'a', judge: 'info' }] }), 'kernels'), /row a appears twice/);
      assert.throws(() => readBenchFile(write('judge.json', { rows: [{ id: 'a', judge: 'faster', score: 1 }] }), 'kernels'), /row a: judge must be higher, lower or info/);
      assert.throws(() => readBenchFile(write('score.json', { rows: [{ id: 'a', judge: 'higher' }] }), 'kernels'), /row a has no score/);
      assert.throws(() => readBenchFile(write('kernels.json', { rows: [] }), 'e2e'), /was written by bench kernels: --compare of bench e2e/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a fallback row (the scalar kernels where AVX2 runs) is compared, but gates only when asked', () => {
    const scalar = { ...recorded(kernel(20)), id: 's', fallback: true };
    const base = file([{ ...scalar }, recorded(kernel(50))]);
    const now = [{ ...scalar, score: 5 }, recorded(kernel(50))];
    const plain = compareRuns(base, now);
    assert.deepEqual(plain.map((c) => [c.id, c.verdict, c.gated]), [['s', 'regressed', false], ['k', 'ok', true]]);
    assert.deepEqual(regressions(plain), []);
    assert.deepEqual(regressions(compareRuns(base, now, { gateFallback: true })).map((c) => c.id), ['s']);
    // Where the scalar kernels are the path in use, this run's row is no fallback: it gates.
    assert.deepEqual(regressions(compareRuns(base, [{ ...scalar, score: 5, fallback: undefined }])).map((c) => c.id), ['s']);
  });

  it('equal scores are no change, also 0 (a lossless error); a baseline row without a score is not judged', () => {
    const zero = compareRuns(file([recorded(error(0))]), [recorded(error(0))])[0];
    assert.deepEqual([zero.verdict, zero.change], ['ok', 1]);
    assert.equal(compareRuns(file([recorded(error(0))]), [recorded(error(1e-6))])[0].verdict, 'regressed');
    assert.equal(compareRuns(file([recorded(kernel(NaN))]), [recorded(kernel(50))])[0].verdict, 'not run');
  });

  it('GPU rows are a share of the GPU copy limit, or not judged when it could not be measured', () => {
    const gpu = gpuBandwidthRow('cuda.x', 'x', 100e9, { ...limits, gpuCopy: { bytesPerSecond: 1000e9, device: 'g' } });
    assert.deepEqual([gpu.pctOfLimit, gpu.device], [10, 'cuda']);
    assert.ok(Number.isNaN(gpuBandwidthRow('cuda.x', 'x', 100e9, limits).score));
  });

  describe('bench e2e rows', () => {
    const summary = (spec: string, seconds: number, ratio: number, error: number) => ({
      spec, originalBytes: 1e9, containerBytes: 1e9 / ratio, ratio, bitsPerWeight: 16 / ratio, methodTensors: 1, methodWeights: 1, methodBitsPerWeight: 1,
      meanRelativeError: error, meanSnrDb: 0, seconds, peakRssBytes: 1 << 30, decompressSeconds: seconds / 2,
    });
    const result = (seconds: number, zstdSeconds: number | undefined, device = 'cpu'): E2eResult => ({
      machine: 'm', backend: {} as E2eResult['backend'], parameters: 5e8, modelBytes: 1e9, device: device as E2eResult['device'], threads: 2, subset: '',
      rows: [summary('lossless', seconds, 1.5, 0), summary('rtn:4', seconds, 3.5, 0.1)],
      peers: zstdSeconds === undefined ? [{ name: 'zstd -1 -T2', skipped: 'zstd not installed' }] : [{ name: 'zstd -1 -T2', seconds: zstdSeconds, decompressSeconds: zstdSeconds / 4, decompressSyncSeconds: zstdSeconds / 4, ratio: 1.2 }],
    });
    const asFile = (r: E2eResult) => file(mergeRuns([e2eRows(r)]));

    it('throughput is judged as a ratio to zstd in the same run: a machine twice as slow is no regression', () => {
      const base = asFile(result(10, 2));
      const slower = mergeRuns([e2eRows(result(20, 4))]);
      assert.deepEqual(regressions(compareRuns(base, slower, { expected: madeBy(slower) })), []);
      const worse = mergeRuns([e2eRows(result(20, 2))]);
      assert.deepEqual(regressions(compareRuns(base, worse, { expected: madeBy(worse) })).map((c) => c.id), ['e2e.lossless.compress', 'e2e.lossless.decompress', 'e2e.rtn:4.compress', 'e2e.rtn:4.decompress']);
      const c = compareRuns(base, worse).find((x) => x.id === 'e2e.rtn:4.compress')!;
      assert.equal(c.baseline, (1e9 / 10) / (1e9 / 2));
    });

    it('without zstd the timings are printed, not judged; ratio and error always are', () => {
      const rows = e2eRows(result(10, undefined));
      assert.deepEqual(rows.filter((r) => r.judge !== 'info').map((r) => r.id), ['e2e.lossless.ratio', 'e2e.lossless.error', 'e2e.rtn:4.ratio', 'e2e.rtn:4.error']);
      assert.match(rows.find((r) => r.id === 'e2e.rtn:4.compress')!.name, /not judged: no zstd in this run/);
    });

    it('a GPU run has timings of its own; its ratio and error are judged against a CPU baseline', () => {
      const gpu = mergeRuns([e2eRows(result(1, 2, 'cuda:0'))]);
      assert.ok(gpu.some((r) => r.id === 'e2e.rtn:4.compress.cuda' && r.device === 'cuda'));
      const out = compareRuns(asFile(result(10, 2)), gpu, { expected: madeBy(gpu) });
      assert.deepEqual(out.filter((c) => c.verdict !== 'new').map((c) => [c.id, c.verdict]), [
        ['e2e.lossless.ratio', 'ok'], ['e2e.lossless.error', 'ok'], ['e2e.rtn:4.ratio', 'ok'], ['e2e.rtn:4.error', 'ok'],
      ]);
    });
  });
});


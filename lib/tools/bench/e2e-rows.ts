// `bench e2e --out` and `--compare`: each method's run as bench rows (lib/tools/bench/row.ts), so
// that the e2e JSON is a baseline as the kernels' is and compare.ts judges it.
//
// Throughput is judged as a ratio to `zstd -1` run on the same shard files, on the same disk and
// cores, in the same run: both are passes over the whole model bound by the same memory, disk
// and cores, so the ratio moves much less than MB/s when the baseline comes from another (or a
// busier) machine. Without zstd there is nothing to measure against: the throughput rows are
// printed, not judged. Ratio and relative error are deterministic (the same container on every
// machine, thread count and device): judged with compare.ts's FIGURE_TOLERANCE.
import { mergeRuns, type BenchFile } from './compare';
import type { E2eResult, E2ePeer } from './e2e';
import { describeShape } from '../generate';
import { figureRow, infoRow, type BenchRow } from './row';

export type E2eFile = BenchFile & { kind: 'e2e'; model: { source: string; parameters: number; bytes: number }; result: E2eResult };

type Yardstick = { what: string; bytesPerSecond: number } | undefined;

/** A method's throughput against the peer's in the same run; a timing belongs to its device, and
 * a GPU run's have ids of their own (a CPU baseline's say nothing about them). */
function throughputRow(spec: string, what: 'compress' | 'decompress', device: 'cpu' | 'cuda', label: string, bytesPerSecond: number, zstd: Yardstick): BenchRow {
  const id = `e2e.${spec}.${what}${device === 'cuda' ? '.cuda' : ''}`;
  const name = `${spec} ${what}${label}`;
  if (!zstd) return { ...infoRow(id, `${name} (not judged: no zstd in this run to measure it against)`, bytesPerSecond / 1e6, 'MB/s'), device };
  const ratio = bytesPerSecond / zstd.bytesPerSecond;
  return { id, name: `${name}: ${ratio.toFixed(3)}x ${zstd.what}`, value: bytesPerSecond / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: `per ${zstd.what} MB/s`, score: ratio, judge: 'higher', device };
}

export function e2eRows(r: E2eResult): BenchRow[] {
  const zstd = r.peers.find((p): p is E2ePeer => !('skipped' in p) && p.name.startsWith('zstd'));
  const device = r.device.startsWith('cuda') ? 'cuda' : 'cpu';
  const compressYardstick: Yardstick = zstd && { what: zstd.name, bytesPerSecond: r.modelBytes / zstd.seconds };
  // tensorzip's decompress syncs its output: against zstd -d's time with its output synced too.
  const decompressYardstick: Yardstick = zstd && { what: `${zstd.name.split(' ')[0]} -d`, bytesPerSecond: r.modelBytes / (zstd.decompressSeconds + zstd.decompressSyncSeconds) };
  return r.rows.flatMap((x) => {
    const est = x.extrapolated ? ' (extrapolated)' : '';
    const rows = [
      throughputRow(x.spec, 'compress', device, est, x.originalBytes / x.seconds, compressYardstick),
      figureRow(`e2e.${x.spec}.ratio`, `${x.spec} ratio${est}`, x.ratio, 'x', 'higher'),
      figureRow(`e2e.${x.spec}.error`, `${x.spec} mean relative error of its tensors${est}`, x.meanRelativeError, 'rel.err', 'lower'),
      infoRow(`e2e.${x.spec}.rss`, `${x.spec} compress peak RSS`, x.peakRssBytes / 2 ** 20, 'MiB'),
    ];
    if (x.decompressSeconds !== undefined) rows.push(throughputRow(x.spec, 'decompress', device, '', x.originalBytes / x.decompressSeconds, decompressYardstick));
    // Each row belongs to its method: compare expects only the methods that ran.
    return rows.map((row) => ({ ...row, suite: x.spec }));
  });
}

/** The run as a bench JSON file: what `bench e2e --out` writes and `--compare` reads. */
export function e2eFile(r: E2eResult): E2eFile {
  return {
    kind: 'e2e',
    date: new Date().toISOString(),
    machine: r.machine,
    threads: r.threads,
    runs: 1,
    device: r.device,
    model: { source: r.model ?? `generated (${r.shape ? describeShape(r.shape) : '?'})`, parameters: r.parameters, bytes: r.modelBytes },
    rows: mergeRuns([e2eRows(r)]),
    result: r,
  };
}

/** A baseline's ratios and errors only mean something for the same model. */
export function checkSameModel(baseline: BenchFile & Partial<Pick<E2eFile, 'model'>>, file: string, now: E2eFile['model']): void {
  const b = baseline.model;
  if (b && (b.parameters !== now.parameters || b.bytes !== now.bytes))
    throw new Error(`${file} was measured on another model (${b.source}: ${b.parameters} parameters, ${b.bytes} bytes; this run: ${now.source}: ${now.parameters} parameters, ${now.bytes} bytes): its rows cannot judge this run`);
}

// The LZMA stage and lossless storage on generated bf16 weights (4096 x 1536, 12.6 MB), next to
// the xz command line (`xz -T2 -6`) on the same bytes when it is installed. Throughput is raw
// (uncompressed) bytes per second. LZMA is slow, so each row is timed on 2 runs.
import { spawnSync } from 'node:child_process';
import { compressPieces, decompressPieces, parseLzma } from '../lib/lzma';
import { lossless } from '../lib/methods/lossless';
import { bytesOf, fromF32 } from '../lib/methods/f32';
import { weightMatrix } from '../lib/random';
import type { BenchRow } from './convert.bench';
import { measure } from './measure';

const once = { time: 0, iterations: 2 };

function xzPeer(data: Uint8Array, label: string, threads: number): BenchRow[] {
  const probe = spawnSync('xz', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return [{ name: `xz -T${threads} -6 (${label})`, throughput: NaN, unit: 'skipped: xz not installed', pctOfLimit: NaN, limit: '-' }];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('xz', [`-T${threads}`, '-6', '-c'], { input: data, maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  spawnSync('xz', ['-d', '-c'], { input: r.stdout, maxBuffer: 1 << 30 });
  const d = Number(process.hrtime.bigint() - t1) / 1e9;
  return [
    { name: `xz -T${threads} -6 compress (${label}), ratio ${(data.length / r.stdout.length).toFixed(3)}`, throughput: data.length / s / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: 'peer' },
    { name: `xz -d decompress (${label})`, throughput: data.length / d / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: 'peer' },
  ];
}

export async function lzmaBench(threads: number): Promise<BenchRow[]> {
  const raw = fromF32('BF16', weightMatrix(4096, 1536, 11));
  const { streams } = await lossless.encode({}, 'BF16', raw, { threads }, { shape: [raw.length / 2], absMean: 0, absMax: 0 });
  const planes = Buffer.concat(streams);
  const rows: BenchRow[] = [];
  for (const [label, setting] of [['auto', parseLzma('auto')], ['preset 6, every piece', parseLzma('6')], ['preset 1, every piece', parseLzma('1')]] as const) {
    let stored = await compressPieces(streams, setting, threads);
    const s = await measure(`lossless lzma ${label}`, async () => (stored = await compressPieces(streams, setting, threads)), once);
    const bytes = stored.reduce((a, p) => a + p.data.length, 0);
    rows.push({ name: `lossless bf16, LZMA ${label}: ratio ${(raw.length / bytes).toFixed(3)}, ${((8 * bytes) / (raw.length / 2)).toFixed(2)} bits/weight`, throughput: raw.length / s / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: '-' });
    const d = await measure(`lossless unlzma ${label}`, () => decompressPieces(stored, threads), once);
    rows.push({ name: `  decode (${label})`, throughput: raw.length / d / 1e6, unit: 'MB/s', pctOfLimit: NaN, limit: '-' });
  }
  rows.push(...xzPeer(bytesOf(raw), 'raw bf16 bytes', threads), ...xzPeer(planes, 'same byte planes', threads));
  return rows;
}

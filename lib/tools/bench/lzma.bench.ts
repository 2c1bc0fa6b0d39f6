// Lossless storage of generated bf16 weights (4096 x 1536, 12.6 MB): the byte-plane split and
// merge against copy bandwidth, then the LZMA stage at three settings, next to the xz command
// line (`xz -T<threads> -6`) on the same bytes when it is installed. LZMA throughput is raw
// (uncompressed) bytes per second; it is slow, so each LZMA row is timed on 2 runs.
import { spawnSync } from 'node:child_process';
import { compressPieces, decompressPieces, parseLzma } from '../../container/lzma';
import { lossless } from '../../methods/lossless';
import { bytesOf, fromF32 } from '../../methods/f32';
import { native } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { skippedRow } from './peers';
import { bandwidthRow, cpuRateRow, figureRow, infoRow, type BenchContext, type BenchRow } from './row';

const once = { time: 0, iterations: 2 };

function xzPeer(data: Uint8Array, label: string, id: string, threads: number, peers: boolean): BenchRow[] {
  const peer = `xz -T${threads} -6 (${label})`;
  if (!peers) return [skippedRow(`lzma.peer.xz.${id}`, peer, '--no-peers')];
  if (spawnSync('xz', ['--version']).status !== 0) return [skippedRow(`lzma.peer.xz.${id}`, peer, 'xz not installed')];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('xz', [`-T${threads}`, '-6', '-c'], { input: data, maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  spawnSync('xz', ['-d', '-c'], { input: r.stdout, maxBuffer: 1 << 30 });
  const d = Number(process.hrtime.bigint() - t1) / 1e9;
  return [
    infoRow(`lzma.peer.xz.${id}`, `${peer} compress, ratio ${(data.length / r.stdout.length).toFixed(3)}`, data.length / s / 1e6, 'MB/s', 'peer'),
    infoRow(`lzma.peer.xz.${id}.decode`, `xz -d decompress (${label})`, data.length / d / 1e6, 'MB/s', 'peer'),
  ];
}

export async function lzmaBench({ threads, limits, peers }: BenchContext): Promise<BenchRow[]> {
  const raw = fromF32('BF16', weightMatrix(4096, 1536, 11));
  const rows: BenchRow[] = [];
  // The byte planes (bf16: sign+exponent bytes apart from mantissa bytes), 1 thread, as the
  // lossless method runs them: a memory-bound shuffle, bytes read + written.
  const planes = new Uint8Array(raw.length);
  const back = new Uint8Array(raw.length);
  const split = await measure('split planes', () => native.bytePlanes({ mode: 'split', src: raw, width: 2, rotate: true, dst: planes }));
  const merge = await measure('merge planes', () => native.bytePlanes({ mode: 'merge', src: planes, width: 2, rotate: true, dst: back }));
  rows.push(
    bandwidthRow('lossless.split', 'lossless bf16 byte-plane split, 4096x1536, 1 thread', (2 * raw.length) / split, limits, 1),
    bandwidthRow('lossless.merge', 'lossless bf16 byte-plane merge, 4096x1536, 1 thread', (2 * raw.length) / merge, limits, 1),
  );
  const { streams } = await lossless.encode({}, 'BF16', raw, { threads }, { shape: [raw.length / 2], absMean: 0, absMax: 0, first: 0 });
  for (const [label, id, setting] of [['auto', 'auto', parseLzma('auto')], ['preset 6, every piece', '6', parseLzma('6')], ['preset 1, every piece', '1', parseLzma('1')]] as const) {
    let stored = await compressPieces(streams, setting, threads);
    const s = await measure(`lossless lzma ${label}`, async () => (stored = await compressPieces(streams, setting, threads)), once);
    const bytes = stored.reduce((a, p) => a + p.data.length, 0);
    rows.push(
      figureRow(`lzma.${id}.ratio`, `lossless bf16, LZMA ${label}: ratio (${((8 * bytes) / (raw.length / 2)).toFixed(2)} bits/weight)`, raw.length / bytes, 'x', 'higher'),
      cpuRateRow(`lzma.${id}.encode`, `lossless bf16, LZMA ${label}: encode, ${threads} threads`, raw.length / s, limits),
    );
    const d = await measure(`lossless unlzma ${label}`, () => decompressPieces(stored, threads), once);
    rows.push(cpuRateRow(`lzma.${id}.decode`, `lossless bf16, LZMA ${label}: decode, ${threads} threads`, raw.length / d, limits));
  }
  rows.push(...xzPeer(bytesOf(raw), 'raw bf16 bytes', 'raw', threads, peers), ...xzPeer(Buffer.concat(streams), 'same byte planes', 'planes', threads, peers));
  return rows;
}

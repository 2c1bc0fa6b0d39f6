// The entropy stage on generated bf16 weights (4096 x 1536, 12.6 MB). The rANS coder on one
// thread, per stream kind (the lossless exponent plane, rtn:4's f16 scales, rtn:3's codes): encode
// and decode against copy bandwidth, and its size against the order-0 entropy of the same symbols
// (the bound an order-0 coder can reach), next to `zstd -1` on the same bytes. Then lossless
// storage as a whole: the byte-plane split and merge against copy bandwidth, the stage with rANS
// and with LZMA at three settings, next to the xz command line (`xz -T<threads> -6`) on the same
// bytes when it is installed. Throughput is raw (uncompressed) bytes per second; LZMA is slow, so
// each LZMA row is timed on 2 runs.
import { spawnSync } from 'node:child_process';
import { compressPieces, decompressPieces, parseLzma, parseStage } from '../../container/stage';
import { lossless } from '../../methods/lossless';
import { planeStreams, type SymbolModel } from '../../methods/method';
import { parseSpec } from '../../methods/registry';
import { bytesOf, fromF32 } from '../../methods/f32';
import { native } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { skippedRow } from './peers';
import { bandwidthRow, cpuRateRow, figureRow, infoRow, type BenchContext, type BenchRow } from './row';

const once = { time: 0, iterations: 2 };

/** A command-line compressor on the same bytes (stdin to stdout), then its `-d` on the output:
 * seconds of each, process start included, and the compressed size; or why it did not run. */
function runPeer(tool: string, args: string[], data: Uint8Array, peers: boolean): { compress: number; decompress: number; bytes: number } | { skipped: string } {
  if (!peers) return { skipped: '--no-peers' };
  if (spawnSync(tool, ['--version']).status !== 0) return { skipped: `${tool} not installed` };
  const t0 = process.hrtime.bigint();
  const r = spawnSync(tool, [...args, '-c'], { input: data, maxBuffer: 1 << 30 });
  const compress = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  spawnSync(tool, ['-d', '-c'], { input: r.stdout, maxBuffer: 1 << 30 });
  return { compress, decompress: Number(process.hrtime.bigint() - t1) / 1e9, bytes: r.stdout.length };
}

function xzPeer(data: Uint8Array, label: string, id: string, threads: number, peers: boolean): BenchRow[] {
  const peer = `xz -T${threads} -6 (${label})`;
  const r = runPeer('xz', [`-T${threads}`, '-6'], data, peers);
  if ('skipped' in r) return [skippedRow(`lzma.peer.xz.${id}`, peer, r.skipped)];
  return [
    infoRow(`lzma.peer.xz.${id}`, `${peer} compress, ratio ${(data.length / r.bytes).toFixed(3)}`, data.length / r.compress / 1e6, 'MB/s', 'peer'),
    infoRow(`lzma.peer.xz.${id}.decode`, `xz -d decompress (${label})`, data.length / r.decompress / 1e6, 'MB/s', 'peer'),
  ];
}

/** Bytes an ideal order-0 coder needs for the piece's symbols under the model (per context). */
function orderZeroBytes(data: Uint8Array, model: SymbolModel = {}): number {
  const bits = model.bits ?? 8, contexts = model.contexts ?? 1;
  const count = Math.ceil((data.length * 8) / bits);
  const counts = Array.from({ length: contexts }, () => new Float64Array(256));
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let b = 0; b < bits; b++) {
      const at = i * bits + b;
      if (at < data.length * 8) v |= ((data[at >> 3] >> (at & 7)) & 1) << b;
    }
    counts[i % contexts][v]++;
  }
  let sum = 0;
  for (const c of counts) {
    const n = c.reduce((a, b) => a + b, 0);
    for (const k of c) if (k) sum -= k * Math.log2(k / n);
  }
  return sum / 8;
}

function zstdPeer(data: Uint8Array, label: string, id: string, peers: boolean): BenchRow[] {
  const peer = `zstd -1 -T1 (${label})`;
  const r = runPeer('zstd', ['-1', '-T1'], data, peers);
  if ('skipped' in r) return [skippedRow(`rans.peer.zstd.${id}`, peer, r.skipped)];
  return [
    infoRow(`rans.peer.zstd.${id}`, `${peer}: ratio ${(data.length / r.bytes).toFixed(3)}, compress (process included)`, data.length / r.compress / 1e6, 'MB/s', 'peer'),
    infoRow(`rans.peer.zstd.${id}.decode`, `zstd -d (${label}), process included`, data.length / r.decompress / 1e6, 'MB/s', 'peer'),
  ];
}

/** The rANS coder, one thread, one piece per stream kind as the pipeline stores it. */
async function ransRows(raw: Uint8Array, planes: Uint8Array[], { limits, peers }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const streamOf = async (spec: string, stream: number) => {
    const { method, params } = parseSpec(spec);
    const p = method.resolve ? method.resolve(params, [4096, 1536]) : params;
    const { streams } = await method.encode(p, 'BF16', raw, { threads: 1 }, { shape: [4096, 1536], absMean: 0, absMax: 0, first: 0 });
    return { data: streams[stream], model: method.symbolModel?.(p, 'BF16', method.streamNames(p, 'BF16')[stream]) };
  };
  const kinds: Array<[string, string, { data: Uint8Array; model?: SymbolModel }]> = [
    ['exponent', 'lossless bf16 exponent plane', { data: planes[1] }],
    ['rtn4.scales', 'rtn:4 f16 scales (2 contexts)', await streamOf('rtn:4', 1)],
    ['rtn3.codes', 'rtn:3 codes (3-bit symbols)', await streamOf('rtn:3', 0)],
  ];
  const rans = parseStage('rans', undefined);
  for (const [id, label, { data, model }] of kinds) {
    let stored = await compressPieces([data], rans, 'tensor', 1, undefined, [model]);
    const e = await measure(`rans encode ${id}`, async () => (stored = await compressPieces([data], rans, 'tensor', 1, undefined, [model])));
    // Decoding alone: without the CRC-32 the stage hands on, decompressPieces would check it first.
    const d = await measure(`rans decode ${id}`, () => decompressPieces(stored.map(({ crc32: _, ...p }) => p), { threads: 1 }));
    const bound = orderZeroBytes(data, model);
    const [xz] = await compressPieces([data], parseStage('lzma', 'auto'), 'tensor', 1);
    rows.push(
      figureRow(`rans.${id}.lzma`, `LZMA auto on the same bytes: ratio`, data.length / xz.data.length, 'x', 'higher'),
      bandwidthRow(`rans.${id}.encode`, `rANS encode, ${label} (${(data.length / 1e6).toFixed(1)} MB), 1 thread`, data.length / e, limits, 1),
      bandwidthRow(`rans.${id}.decode`, `rANS decode, ${label}, 1 thread`, data.length / d, limits, 1),
      figureRow(`rans.${id}.bound`, `rANS size / order-0 bound, ${label} (ratio ${(data.length / stored[0].data.length).toFixed(3)})`, stored[0].data.length / bound, 'x', 'lower'),
      ...zstdPeer(data, label, id, peers),
    );
  }
  return rows;
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
  rows.push(...(await ransRows(raw, streams, { threads, limits, peers })));
  {
    // As compress runs it: the chunk split into its planes, coded and checksummed in one job.
    const rans = parseStage('rans', undefined);
    const split = [{ src: raw, width: 2, rotate: true, first: 0 }];
    const code = () => compressPieces(planeStreams(planes, 2), rans, 'tensor', threads, undefined, undefined, undefined, split);
    let stored = await code();
    const s = await measure('lossless rans', async () => (stored = await code()));
    const bytes = stored.reduce((a, p) => a + p.data.length, 0);
    const d = await measure('lossless unrans', () => decompressPieces(stored.map(({ crc32: _, ...p }) => p), { threads }));
    rows.push(
      figureRow('rans.lossless.ratio', `lossless bf16, rANS: ratio (${((8 * bytes) / (raw.length / 2)).toFixed(2)} bits/weight)`, raw.length / bytes, 'x', 'higher'),
      bandwidthRow('rans.lossless.encode', `lossless bf16, rANS: split, encode and CRC-32, ${threads} threads`, raw.length / s, limits, threads),
      bandwidthRow('rans.lossless.decode', `lossless bf16, rANS: decode, ${threads} threads`, raw.length / d, limits, threads),
    );
  }
  for (const [label, id, setting] of [['auto', 'auto', parseLzma('auto')], ['preset 6, every piece', '6', parseLzma('6')], ['preset 1, every piece', '1', parseLzma('1')]] as const) {
    let stored = await compressPieces(streams, { coder: 'lzma', lzma: setting }, 'tensor', threads);
    const s = await measure(`lossless lzma ${label}`, async () => (stored = await compressPieces(streams, { coder: 'lzma', lzma: setting }, 'tensor', threads)), once);
    const bytes = stored.reduce((a, p) => a + p.data.length, 0);
    rows.push(
      figureRow(`lzma.${id}.ratio`, `lossless bf16, LZMA ${label}: ratio (${((8 * bytes) / (raw.length / 2)).toFixed(2)} bits/weight)`, raw.length / bytes, 'x', 'higher'),
      cpuRateRow(`lzma.${id}.encode`, `lossless bf16, LZMA ${label}: encode, ${threads} threads`, raw.length / s, limits),
    );
    const d = await measure(`lossless unlzma ${label}`, () => decompressPieces(stored, { threads }), once);
    rows.push(cpuRateRow(`lzma.${id}.decode`, `lossless bf16, LZMA ${label}: decode, ${threads} threads`, raw.length / d, limits));
  }
  rows.push(...xzPeer(bytesOf(raw), 'raw bf16 bytes', 'raw', threads, peers), ...xzPeer(Buffer.concat(streams), 'same byte planes', 'planes', threads, peers));
  return rows;
}

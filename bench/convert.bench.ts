// dtype conversion throughput at a realistic matrix size (1536 x 8960, an MLP projection of a
// 1.5B-class model), as bytes read + written per second and as % of copy bandwidth.
import { backendInfo } from '../lib/index';
import { runJob } from '../lib/jobs';
import { native, type ConvertKind, type KernelPath } from '../lib/native';
import { weightMatrix } from '../lib/random';
import { copyBandwidth } from './limits';
import { measure } from './measure';

export interface BenchRow {
  name: string;
  throughput: number;
  unit: string;
  /** Percent of the limit the row is judged against. */
  pctOfLimit: number;
  limit: string;
}

export async function convertBench(threads: number): Promise<BenchRow[]> {
  const n = 1536 * 8960;
  const bytes = n * 6; // 4-byte side + 2-byte side
  // Copying bytes/2 reads and writes `bytes` in total: the same traffic as one conversion.
  const copy1 = await copyBandwidth(bytes / 2, 1);
  const copyAll = await copyBandwidth(bytes / 2, threads);
  const f32 = weightMatrix(1536, 8960, 3);
  const u16 = new Uint16Array(n);
  native.convert('f32_to_bf16', f32, u16);
  const f32out = new Float32Array(n);
  const u16out = new Uint16Array(n);
  const paths: KernelPath[] = backendInfo().cpu === 'avx2' ? ['scalar', 'avx2'] : ['scalar'];
  const rows: BenchRow[] = [];
  const kinds: ConvertKind[] = ['f32_to_bf16', 'bf16_to_f32', 'f32_to_f16', 'f16_to_f32'];
  rows.push(copyRow(copy1, 1), copyRow(copyAll, threads));
  for (const kind of kinds) {
    const [src, dst] = kind.startsWith('f32') ? [f32, u16out] : [u16, f32out];
    for (const path of paths) {
      const s = await measure(`${kind} ${path}`, () => native.convert(kind, src, dst, path));
      rows.push({ name: `${kind} ${path} 1 thread`, throughput: bytes / s / 1e9, unit: 'GB/s', pctOfLimit: (100 * bytes) / s / copy1, limit: 'copy 1 thread' });
    }
    const s = await measure(`${kind} async`, () => runJob((p) => native.convertAsync(kind, src, dst, { threads }, p)));
    rows.push({ name: `${kind} async ${threads} threads`, throughput: bytes / s / 1e9, unit: 'GB/s', pctOfLimit: (100 * bytes) / s / copyAll, limit: `copy ${threads} threads` });
  }
  return rows;
}

function copyRow(bytesPerSecond: number, threads: number): BenchRow {
  return { name: `memcpy ${threads} thread${threads > 1 ? 's' : ''} (the limit)`, throughput: bytesPerSecond / 1e9, unit: 'GB/s', pctOfLimit: 100, limit: 'itself' };
}

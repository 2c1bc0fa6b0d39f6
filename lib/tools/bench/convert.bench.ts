// dtype conversion throughput at a realistic matrix size (1536 x 8960, an MLP projection of a
// 1.5B-class model), as bytes read + written per second and as % of copy bandwidth.
import { backendInfo } from '../../backend';
import { runJob } from '../../jobs';
import { native, type ConvertKind, type KernelPath } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { bandwidthRow, type BenchContext, type BenchRow } from './row';

export async function convertBench({ threads, limits }: BenchContext): Promise<BenchRow[]> {
  const n = 1536 * 8960;
  const bytes = n * 6; // 4-byte side + 2-byte side
  const f32 = weightMatrix(1536, 8960, 3);
  const u16 = new Uint16Array(n);
  native.kernelRow('f32_to_bf16', { src: f32, dst: u16 });
  const f32out = new Float32Array(n);
  const u16out = new Uint16Array(n);
  const paths: KernelPath[] = backendInfo().cpu === 'avx2' ? ['scalar', 'avx2'] : ['scalar'];
  const rows: BenchRow[] = [];
  const kinds: ConvertKind[] = ['f32_to_bf16', 'bf16_to_f32', 'f32_to_f16', 'f16_to_f32'];
  for (const kind of kinds) {
    const [src, dst] = kind.startsWith('f32') ? [f32, u16out] : [u16, f32out];
    for (const path of paths) {
      const s = await measure(`${kind} ${path}`, () => native.kernelRow(kind, { src, dst }, path));
      const row = bandwidthRow(`convert.${kind}.${path}.1t`, `${kind} ${path} 1 thread`, bytes / s, limits, 1);
      // Where AVX2 runs, the scalar row times a fallback no conversion here takes: informational.
      rows.push(path === 'scalar' && paths.length > 1 ? { ...row, fallback: true } : row);
    }
    const s = await measure(`${kind} async`, () => runJob((p) => native.convert({ kind, src, dst, threads }, p)));
    rows.push(bandwidthRow(`convert.${kind}.job.nt`, `${kind} job, ${threads} threads`, bytes / s, limits, threads));
  }
  return rows;
}

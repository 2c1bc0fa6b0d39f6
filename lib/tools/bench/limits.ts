// The machine's own limits, measured first in every run: FMA peak (a native AVX2 microkernel),
// copy bandwidth (native memcpy) on 1 and on all threads, and the GPU's device-to-device copy
// bandwidth when the CUDA backend is available. Kernels are judged as % of these. A limit is the
// best of several runs: slower runs are interference on the machine, not its limit.
import { backendInfo } from '../../backend';
import { native } from '../../native';
import { measure, smokeTimings } from './measure';
import { limitRow, infoRow, type BenchRow } from './row';

export interface Limits {
  /** GFLOP/s (f32, 2 per FMA). */
  fma1: number;
  fmaAll: number;
  /** Bytes read + written per second. */
  copy1: number;
  copyAll: number;
  /** Bytes copied per memcpy: the traffic of the 1536 x 8960 kernels (beyond the caches). */
  copyBytes: number;
  gpuCopy: { bytesPerSecond: number; device: string } | { unavailable: string };
}

/** 41 MiB buffers: one 1536 x 8960 f32 -> bf16 conversion moves 82 MB. */
const COPY_BYTES = 41 << 20;

export async function copyBandwidth(bytes: number, threads: number): Promise<number> {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes).fill(2);
  const seconds = await measure(`copy ${threads}t`, () => native.copy(dst, src, threads), { time: 1500, iterations: 20 });
  return (2 * bytes) / seconds;
}

/** The best of five 0.2 s FMA runs (--smoke: one of 0.05 s). */
const fmaPeak = (threads: number) =>
  smokeTimings() ? native.measurePeak({ kind: 'fma', threads, seconds: 0.05 }) : Math.max(...Array.from({ length: 5 }, () => native.measurePeak({ kind: 'fma', threads, seconds: 0.2 })));

/** Device-to-device copy bandwidth of GPU `gpu`, or why it could not be measured (no CUDA
 * backend, or a library that cannot measure it, such as the tests' CPU stand-in). */
function gpuCopyLimit(gpu: number): Limits['gpuCopy'] {
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) return { unavailable: cuda.unavailable };
  try {
    return { bytesPerSecond: native.measurePeak({ kind: 'cuda-copy', device: gpu, bytes: 1 << 30 }), device: cuda.gpus[gpu].name };
  } catch (e) {
    return { unavailable: `could not be measured on GPU ${gpu}: ${e instanceof Error ? e.message : e}` };
  }
}

/** The limits on `threads` CPU threads, and the copy bandwidth of GPU `gpu` (default 0). */
export async function measureLimits(threads: number, gpu = 0): Promise<Limits> {
  const gpuCopy = gpuCopyLimit(gpu);
  return {
    fma1: fmaPeak(1),
    fmaAll: fmaPeak(threads),
    copy1: await copyBandwidth(COPY_BYTES, 1),
    copyAll: await copyBandwidth(COPY_BYTES, threads),
    copyBytes: COPY_BYTES,
    gpuCopy,
  };
}

/** The limits as rows, printed first: 100 % of themselves, and not judged by --compare (they
 * are the machine, not the code). */
export function limitRows(l: Limits, threads: number): BenchRow[] {
  const mib = `${l.copyBytes >> 20} MiB`;
  const itself = (id: string, name: string, value: number, unit: string): BenchRow => ({ ...limitRow(id, name, value, unit, 100, 'itself'), score: NaN, judge: 'info' });
  return [
    itself('limit.fma.1t', 'FMA peak, 1 thread (the limit)', l.fma1, 'GFLOP/s'),
    itself('limit.fma.nt', `FMA peak, ${threads} threads (the limit)`, l.fmaAll, 'GFLOP/s'),
    itself('limit.copy.1t', `memcpy ${mib}, 1 thread (the limit)`, l.copy1 / 1e9, 'GB/s'),
    itself('limit.copy.nt', `memcpy ${mib}, ${threads} threads (the limit)`, l.copyAll / 1e9, 'GB/s'),
    'bytesPerSecond' in l.gpuCopy
      ? itself('limit.gpu-copy', `${l.gpuCopy.device}: device-to-device copy, 1 GiB (the limit)`, l.gpuCopy.bytesPerSecond / 1e9, 'GB/s')
      : infoRow('limit.gpu-copy', `GPU copy bandwidth: skipped (${l.gpuCopy.unavailable})`, NaN, '-'),
  ];
}

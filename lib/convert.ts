// dtype conversion between f32 and bf16/f16 (raw 16-bit patterns in Uint16Array). Rounding is
// round-to-nearest-even with IEEE handling of NaN, Inf and subnormals; see docs/METHODS.md.
import { runJob, type JobOptions } from './jobs';
import { native, type ConvertKind, type KernelPath } from './native';

export type { ConvertKind, KernelPath };

/** Options of the synchronous converters: output array to fill and, for tests, a kernel path. */
export interface ConvertSyncOptions<T> {
  dst?: T;
  /** 'auto' (default) uses the path chosen at load; 'scalar'/'avx2' pin one (testing). */
  path?: KernelPath;
}

export function f32ToBf16(src: Float32Array, { dst = new Uint16Array(src.length), path }: ConvertSyncOptions<Uint16Array> = {}): Uint16Array {
  native.kernelRow('f32_to_bf16', { src, dst }, path);
  return dst;
}

export function bf16ToF32(src: Uint16Array, { dst = new Float32Array(src.length), path }: ConvertSyncOptions<Float32Array> = {}): Float32Array {
  native.kernelRow('bf16_to_f32', { src, dst }, path);
  return dst;
}

export function f32ToF16(src: Float32Array, { dst = new Uint16Array(src.length), path }: ConvertSyncOptions<Uint16Array> = {}): Uint16Array {
  native.kernelRow('f32_to_f16', { src, dst }, path);
  return dst;
}

export function f16ToF32(src: Uint16Array, { dst = new Float32Array(src.length), path }: ConvertSyncOptions<Float32Array> = {}): Float32Array {
  native.kernelRow('f16_to_f32', { src, dst }, path);
  return dst;
}

export interface ConvertOptions extends JobOptions {
  /** CPU threads (default: all cores). Results do not depend on it. */
  threads?: number;
  /** 'cpu' (default) or 'cuda' (fails with the reason when CUDA is unavailable). */
  device?: 'cpu' | 'cuda';
  /** GPU index for device 'cuda' (default 0). */
  cudaDevice?: number;
  /**
   * Output array to fill (same length as the source). Reusing one avoids touching fresh memory,
   * which costs more than the conversion itself on many machines.
   */
  dst?: Float32Array | Uint16Array;
}

/**
 * Converts off the JS thread, in parallel, with progress (in elements) and cancellation. The
 * job works on the arrays in place: do not modify or transfer them until the promise settles.
 */
export function convertAsync(kind: 'f32_to_bf16' | 'f32_to_f16', src: Float32Array, options?: ConvertOptions): Promise<Uint16Array>;
export function convertAsync(kind: 'bf16_to_f32' | 'f16_to_f32', src: Uint16Array, options?: ConvertOptions): Promise<Float32Array>;
export async function convertAsync(
  kind: ConvertKind,
  src: Float32Array | Uint16Array,
  { signal, onProgress, dst, threads, device, cudaDevice }: ConvertOptions = {},
): Promise<Float32Array | Uint16Array> {
  dst ??= kind.startsWith('f32_') ? new Uint16Array(src.length) : new Float32Array(src.length);
  const out = dst;
  if (device !== undefined && device !== 'cpu' && device !== 'cuda') throw new TypeError("option device must be 'cpu' or 'cuda'");
  const on = device === 'cuda' ? { cuda: cudaDevice ?? 0 } : undefined;
  await runJob((progress) => native.convert({ kind, src, dst: out, threads, device: on }, progress), { signal, onProgress });
  return out;
}

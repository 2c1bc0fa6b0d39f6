// Between a tensor's stored dtype and f32, the form every lossy method encodes.
import { native, type ErrorSums, type TernaryDtype, type WeightStats } from '../native';
import type { Dtype } from '../io/dtypes';
import { runJob, type JobContext } from '../jobs';
import { takeBuffer, type BufferPool } from '../core/buffer-pool';

/** A view of raw bytes as elements of `size` bytes, or an aligned copy when the offset is odd. */
function view<T>(raw: Uint8Array, size: number, make: (b: ArrayBuffer, o: number, n: number) => T): T {
  const n = raw.byteLength / size;
  if (raw.byteOffset % size === 0) return make(raw.buffer as ArrayBuffer, raw.byteOffset, n);
  const aligned = new Uint8Array(raw.byteLength);
  aligned.set(raw);
  return make(aligned.buffer, 0, n);
}

export function u16View(raw: Uint8Array): Uint16Array {
  return view(raw, 2, (b, o, n) => new Uint16Array(b, o, n));
}

export function f32View(raw: Uint8Array): Float32Array {
  return view(raw, 4, (b, o, n) => new Float32Array(b, o, n));
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Raw F32/F16/BF16 bytes as f32 (exact). */
export function toF32(dtype: Dtype, raw: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': return f32View(raw);
    case 'BF16': return convert16('bf16_to_f32', raw);
    case 'F16': return convert16('f16_to_f32', raw);
    default: throw new Error(`dtype ${dtype} is not a float dtype lossy methods encode`);
  }
}

function convert16(kind: 'bf16_to_f32' | 'f16_to_f32', raw: Uint8Array): Float32Array {
  const src = u16View(raw);
  const out = new Float32Array(src.length);
  native.kernelRow(kind, { src, dst: out });
  return out;
}

/** f32 values in the stored dtype's bytes, rounding to nearest even for F16/BF16. */
export function fromF32(dtype: Dtype, values: Float32Array): Uint8Array {
  if (dtype === 'F32') return bytesOf(values);
  const out = new Uint16Array(values.length);
  if (dtype === 'BF16') native.kernelRow('f32_to_bf16', { src: values, dst: out });
  else if (dtype === 'F16') native.kernelRow('f32_to_f16', { src: values, dst: out });
  else throw new Error(`dtype ${dtype} is not a float dtype lossy methods encode`);
  return bytesOf(out);
}

/** Raw F32/F16/BF16 bytes as their elements: f32 values, or the 16-bit patterns. */
export function floatView(dtype: Dtype, raw: Uint8Array): Float32Array | Uint16Array {
  return dtype === 'F32' ? f32View(raw) : u16View(raw);
}

/** A zeroed array of n elements of a float dtype (Uint16Array for the 16-bit ones). */
export function floatArray(dtype: Dtype, n: number): Float32Array | Uint16Array {
  return dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n);
}

/** An uninitialised array of n elements of a float dtype, from the pool if there is one: for
 * decoders, which write every element. */
export function floatOutput(dtype: Dtype, n: number, pool?: BufferPool): Float32Array | Uint16Array {
  const b = takeBuffer(pool, n * (dtype === 'F32' ? 4 : 2));
  return dtype === 'F32' ? new Float32Array(b.buffer, b.byteOffset, n) : new Uint16Array(b.buffer, b.byteOffset, n);
}

/** The float dtype a native job takes (F32, BF16 or F16), or an error for any other. */
export function floatDtype(dtype: Dtype): TernaryDtype {
  if (dtype === 'F32' || dtype === 'BF16' || dtype === 'F16') return dtype;
  throw new Error(`dtype ${dtype} is not a float dtype lossy methods encode`);
}

/** The statistics of a chunk in its stored dtype (a job on ctx's threads). */
export function chunkStats(dtype: Dtype, raw: Uint8Array, { threads, signal }: JobContext): Promise<WeightStats> {
  return runJob((progress) => native.tensorStats({ weights: floatView(dtype, raw), dtype: floatDtype(dtype), threads }, progress), { signal });
}

/** The error sums of a chunk's reconstruction, both in the stored dtype (a job on ctx's threads). */
export function chunkErrorSums(dtype: Dtype, original: Uint8Array, reconstructed: Uint8Array, { threads, signal }: JobContext): Promise<ErrorSums> {
  const weights = floatView(dtype, original), recon = floatView(dtype, reconstructed);
  return runJob((progress) => native.tensorStats({ weights, reconstructed: recon, dtype: floatDtype(dtype), threads }, progress), { signal });
}

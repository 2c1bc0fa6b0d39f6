import type { ErrorMetricsRecord } from '../container/format';
import type { Dtype } from '../io/dtypes';
import { floatView } from '../methods/f32';
import { native, type ErrorSums, type WeightStats } from '../native';

/** Error of a reconstruction against the original, as every report prints it. */
export interface ErrorMetrics {
  /** ‖w − ŵ‖ / ‖w‖ (Frobenius); 0 when both are zero, Infinity when only w is zero. */
  relativeError: number;
  /** 20·log10(‖w‖ / ‖w − ŵ‖) in dB; Infinity for an exact reconstruction. */
  snrDb: number;
  maxAbsError: number;
  /** w·ŵ / (‖w‖‖ŵ‖); NaN when either is zero. */
  cosine: number;
}

export function emptySums(): ErrorSums {
  return { signal: 0, noise: 0, dot: 0, recon: 0, maxAbs: 0 };
}

/** Adds b into a (sums are accumulated chunk by chunk, always in the same order). */
export function addSums(a: ErrorSums, b: ErrorSums): void {
  a.signal += b.signal;
  a.noise += b.noise;
  a.dot += b.dot;
  a.recon += b.recon;
  a.maxAbs = Math.max(a.maxAbs, b.maxAbs);
}

export function metricsFromSums(s: ErrorSums): ErrorMetrics {
  return {
    relativeError: s.noise === 0 ? 0 : Math.sqrt(s.noise / s.signal),
    snrDb: s.noise === 0 ? Infinity : 10 * Math.log10(s.signal / s.noise),
    maxAbsError: s.maxAbs,
    cosine: s.signal > 0 && s.recon > 0 ? s.dot / Math.sqrt(s.signal * s.recon) : NaN,
  };
}

/** The statistics of a chunk in its stored dtype (F32, BF16 or F16), read as f32 without a copy. */
export function chunkStats(dtype: Dtype, raw: Uint8Array): WeightStats {
  const w = floatView(dtype, raw);
  return w instanceof Float32Array ? native.tensorStats(w) : native.tensorStats(w, undefined, dtype as 'BF16' | 'F16');
}

/** The error sums of a chunk's reconstruction, both in the stored dtype. */
export function chunkErrorSums(dtype: Dtype, original: Uint8Array, reconstructed: Uint8Array): ErrorSums {
  const a = floatView(dtype, original), b = floatView(dtype, reconstructed);
  return a instanceof Float32Array ? native.tensorStats(a, b as Float32Array) : native.tensorStats(a, b as Uint16Array, dtype as 'BF16' | 'F16');
}

/** Metrics of a reconstruction, computed natively in double precision. */
export function errorMetrics(original: Float32Array, reconstructed: Float32Array): ErrorMetrics {
  if (original.length !== reconstructed.length)
    throw new RangeError(`length mismatch: ${original.length} vs ${reconstructed.length}`);
  return metricsFromSums(native.tensorStats(original, reconstructed));
}

/** The form stored in a container: non-finite figures (exact reconstructions) become null. */
export function metricsRecord(m: ErrorMetrics): ErrorMetricsRecord {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return { relativeError: m.relativeError, snrDb: finite(m.snrDb), maxAbsError: m.maxAbsError, cosine: finite(m.cosine) };
}

/** Above this relative error a tensor's weights no longer carry the model's behaviour. */
export const DESTRUCTIVE_ERROR = 0.3;

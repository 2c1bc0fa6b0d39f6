import type { ErrorMetricsRecord } from '../container/format';
import { native, type ErrorSums } from '../native';

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

/** Error figures in words (a figure a damaged record lacks is called missing). */
export function describeMetrics(m: { relativeError: number; snrDb: number | null; maxAbsError: number; cosine: number | null }): string {
  const n = (x: unknown, digits: number) => (typeof x === 'number' ? String(+x.toPrecision(digits)) : 'missing');
  const snr = m.snrDb === null || m.snrDb === Infinity ? 'exact' : `${n(m.snrDb, 6)} dB`;
  return `relative error ${n(m.relativeError, 6)}, SNR ${snr}, max |error| ${n(m.maxAbsError, 6)}, cosine ${m.cosine === null || Number.isNaN(m.cosine) ? '-' : n(m.cosine, 9)}`;
}

/** Above this relative error a tensor's weights no longer carry the model's behaviour. */
export const DESTRUCTIVE_ERROR = 0.3;

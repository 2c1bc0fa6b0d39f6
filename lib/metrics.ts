/** Error of a reconstruction against the original, as every report prints it. */
export interface ErrorMetrics {
  /** ‖w − ŵ‖ / ‖w‖ (Frobenius); 0 when both are zero. */
  relativeError: number;
  /** 20·log10(‖w‖ / ‖w − ŵ‖) in dB; Infinity for an exact reconstruction. */
  snrDb: number;
  maxAbsError: number;
}

export function errorMetrics(original: Float32Array, reconstructed: Float32Array): ErrorMetrics {
  if (original.length !== reconstructed.length)
    throw new RangeError(`length mismatch: ${original.length} vs ${reconstructed.length}`);
  let signal = 0;
  let noise = 0;
  let maxAbs = 0;
  for (let i = 0; i < original.length; i++) {
    const d = original[i] - reconstructed[i];
    signal += original[i] * original[i];
    noise += d * d;
    const a = Math.abs(d);
    if (a > maxAbs || Number.isNaN(a)) maxAbs = a;
  }
  const relativeError = noise === 0 ? 0 : Math.sqrt(noise / signal);
  return { relativeError, snrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise), maxAbsError: maxAbs };
}

import { numelOf } from '../io/dtypes';

/** The totals every report prints, from the tensors' stored sizes and the files' sizes. */
export interface Totals {
  originalBytes: number;
  containerBytes: number;
  /** Original file bytes / container bytes. */
  ratio: number;
  weights: number;
  /** Container bits per weight. */
  bitsPerWeight: number;
  /** Only the lossy tensors: their weights and stored bits per weight. */
  lossy: { weights: number; storedBytes: number; bitsPerWeight: number } | null;
}

export function totals(tensors: ReadonlyArray<{ shape: number[]; storedBytes: number; metrics?: unknown }>, originalBytes: number, containerBytes: number): Totals {
  const weights = tensors.reduce((a, t) => a + numelOf(t.shape), 0);
  const lossy = tensors.filter((t) => t.metrics);
  const lossyWeights = lossy.reduce((a, t) => a + numelOf(t.shape), 0);
  const lossyBytes = lossy.reduce((a, t) => a + t.storedBytes, 0);
  return {
    originalBytes,
    containerBytes,
    ratio: originalBytes / containerBytes,
    weights,
    bitsPerWeight: weights ? (8 * containerBytes) / weights : 0,
    lossy: lossy.length ? { weights: lossyWeights, storedBytes: lossyBytes, bitsPerWeight: (8 * lossyBytes) / lossyWeights } : null,
  };
}

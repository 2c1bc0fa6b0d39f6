// Public API of tensorzip.
export { backendInfo, type BackendInfo } from './backend';
export {
  bf16ToF32,
  convertAsync,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  type ConvertKind,
  type ConvertOptions,
  type ConvertSyncOptions,
  type KernelPath,
} from './convert';
export { AbortError } from './errors';
export type { JobOptions } from './jobs';
export { errorMetrics, type ErrorMetrics } from './metrics';
export type { ProgressCallback } from './native';
export { version } from './version';

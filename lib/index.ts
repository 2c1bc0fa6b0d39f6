// Public API of tensorzip.
export { compress, type CompressOptions, type CompressProgress, type CompressReport, type TensorReport } from './pipeline/compress';
export { compressShard, type PartReport } from './parts/part';
export { merge, type MergeOptions } from './parts/merge';
export { assignShards, parseShard, type ShardSpec } from './parts/shard';
export { decompress, type DecompressOptions, type DecompressReport } from './pipeline/decompress';
export { verify, type VerifyOptions, type VerifyReport } from './pipeline/verify';
export { inspect, readTensor, type InspectReport } from './pipeline/inspect';
export { exportGguf, type ExportOptions, type ExportReport, type ExportedTensor } from './pipeline/export';
export { GgufFile, type GgmlType, type GgufValue } from './interop/gguf';
export { generateCheckpoint, type GenerateOptions, type GeneratedModel } from './tools/generate';
export { evaluate, type EvalOptions, type EvalResult, type PerplexityFigures } from './eval/perplexity';
export { writeImportance, type ImatrixOptions, type ImatrixResult } from './eval/imatrix';
export type { TokenInput } from './eval/chunks';
export { AbortError, FormatError, JsonError, RunMismatchError, SpecError } from './core/errors';
export { ConfigError } from './model/config';
export { TokenError } from './eval/tokens';
export type { Progress } from './core/progress';
export { DEMO_METHODS as METHOD_PRESETS } from './tools/presets';
export { validateSpec } from './methods/registry';
export { decodeTQ1_0, decodeTQ2_0, encodeTQ1_0, encodeTQ2_0, tq2FromTernaryG256P2, type TernaryBlocks } from './interop/llama-tq';
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
export type { JobOptions } from './jobs';
export { errorMetrics, type ErrorMetrics } from './pipeline/metrics';
export type { ProgressCallback } from './native';
export { version } from './version';

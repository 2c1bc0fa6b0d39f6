// The options and reports of compress (and of the part files and queue jobs built on it).
import type { DeviceSpec } from '../device';
import type { SkippedFile } from '../io/carried-files';
import type { ErrorMetrics } from './metrics';
import type { Progress } from '../core/progress';
import type { Totals } from './totals';

export interface CompressOptions {
  /** Method spec for weight matrices (default 'lossless'). */
  method?: string;
  /** Glob pattern -> method spec, first match wins, before the default policy. */
  policy?: Record<string, string>;
  /** The entropy stage's coder of tensor pieces (docs/METHODS.md, "The entropy stage"): 'rans'
   * (default; carried files and shard headers then go through LZMA), 'lzma' (every piece) or
   * 'off'. Without it, `lzma` alone selects 'lzma' (its 'off': 'off'). */
  coder?: string;
  /** The LZMA setting: 'auto' (default), 'off', or a preset '0'-'9' (optionally 'e' for extreme). */
  lzma?: string;
  threads?: number;
  /** Where the kernels with a GPU version run: 'auto' (default: the first GPU when CUDA is
   * available), 'cpu', 'cuda' or 'cuda:N'. The container is the same on every device. */
  device?: DeviceSpec;
  /** Tensors with NaN/Inf, or with values the method cannot represent (Method.unrepresentable:
   * e.g. |w| beyond what rtn's f16 scales hold), under a lossy method: store them lossless
   * (default, with a note) or fail, naming the tensor. */
  nonFinite?: 'lossless' | 'error';
  /** A safetensors file of per-input-column importance vectors, one per weight tensor (vptq, rtn, ternary :opt). */
  importance?: string;
  /** Globs of the model folder's files not to carry (lib/io/carried-files.ts); weight files in
   * other formats (*.bin, *.pth, unlisted *.safetensors, ...) are skipped without one. */
  exclude?: string[];
  /** Globs of files to carry even when skipped by default or by `exclude` (include wins). */
  include?: string[];
  /** Reuse the tensors an interrupted run finished (its `<output>.resume` sidecar). */
  resume?: boolean;
  /** Replace an existing output (and an interrupted run's sidecar); the input is never replaced. */
  force?: boolean;
  /** Lines for the user that are not errors (leftovers removed, a possible lack of space). */
  onNote?: (line: string) => void;
  signal?: AbortSignal;
  onProgress?: (p: CompressProgress) => void;
}

/** Progress in original bytes (unit 'bytes'), with the tensor under way. */
export interface CompressProgress extends Progress {
  unit: 'bytes';
  tensorIndex: number;
  tensorCount: number;
  tensorName: string;
  /** Original bytes of the current tensor done / total. */
  tensorDone: number;
  tensorTotal: number;
  /** Original bytes of all tensors and files done / total. */
  done: number;
  total: number;
}

export interface TensorReport {
  name: string;
  dtype: string;
  shape: number[];
  method: string;
  note?: string;
  originalBytes: number;
  storedBytes: number;
  bitsPerWeight: number;
  nominalBitsPerWeight: number;
  metrics?: ErrorMetrics;
  /** The tensor's own cost (reads, statistics, encoding, its share of the entropy stage), not the time it waited behind other tensors. */
  seconds: number;
}

export interface CompressReport extends Totals {
  input: string;
  output: string;
  tensors: TensorReport[];
  files: string[];
  /** Bytes of the safetensors files and of the carried files: together originalBytes. */
  weightBytes: number;
  carriedBytes: number;
  /** Files of the folder not in the container (nor in originalBytes), and why. */
  skipped: SkippedFile[];
  /** --include / --exclude globs that matched no file. */
  unmatched: string[];
  /** Input files read through symlinks and where they really are (lib/io/model-files.ts). */
  symlinks: Array<{ path: string; target: string }>;
  seconds: number;
  device: string;
}

// The .tzip container (docs/FORMAT.md): a valid safetensors file whose U8 tensors are the stored
// pieces and whose __metadata__["tensorzip"] is the JSON described by ContainerMeta.
import type { Dtype } from '../io/dtypes';

export const FORMAT_NAME = 'tensorzip';
export const FORMAT_VERSION = 1;

export interface PieceRecord {
  codec: 'raw' | 'xz' | 'rans';
  /** Stored bytes (the U8 tensor's length). */
  bytes: number;
  /** Bytes after decoding. */
  rawBytes: number;
  /** CRC-32 (zlib polynomial) of the stored bytes. */
  crc32: number;
}

export interface ErrorMetricsRecord {
  relativeError: number;
  /** null when the reconstruction is exact (infinite SNR). */
  snrDb: number | null;
  maxAbsError: number;
  cosine: number | null;
}

export interface TensorRecord {
  name: string;
  /** Index into source.shards. */
  shard: number;
  dtype: Dtype;
  shape: number[];
  /** Canonical method spec, e.g. 'rtn:4:g32'. */
  method: string;
  chunkElements: number;
  streams: string[];
  /** pieces[chunk][stream]. */
  pieces: PieceRecord[][];
  /** The method's streams stored once for the whole tensor (e.g. vptq's codebook), if it has any. */
  tensorStreams?: string[];
  /** tensorPieces[stream], for tensorStreams. */
  tensorPieces?: PieceRecord[];
  storedBytes: number;
  bitsPerWeight: number;
  nominalBitsPerWeight: number;
  /** Lossy tensors: error of the decompressed tensor (in its stored dtype) against the original. */
  metrics?: ErrorMetricsRecord;
  /** Why the policy's method was not used, when it was not. */
  note?: string;
}

export interface FileRecord {
  /** Path relative to the model root, '/'-separated. */
  path: string;
  bytes: number;
  /** CRC-32 of the original file content. */
  crc32: number;
  chunkBytes: number;
  pieces: PieceRecord[];
}

export interface ShardRecord {
  path: string;
  bytes: number;
  /** 'exact': the original header is stored (files[headerFile]) and the tensors tile the data
   * section, so decompression reproduces the file byte for byte. */
  layout: 'exact' | 'repacked';
  /** The original header bytes (length prefix + JSON), for layout 'exact'. */
  header?: FileRecord;
  metadata?: Record<string, string>;
  /** Tensor names in data order. */
  tensors: string[];
}

export interface ContainerMeta {
  formatVersion: number;
  tool: string;
  options: { method: string; coder?: string; lzma: string; policy?: Record<string, string>; importance?: string; exclude?: string[]; include?: string[] };
  source: { kind: 'file' | 'directory'; shards: ShardRecord[] };
  tensors: TensorRecord[];
  files: FileRecord[];
  totals: { originalBytes: number; weights: number };
}

/** U8 tensor holding one stored piece of a tensor's stream. */
export function pieceName(tensor: string, chunk: number, stream: string): string {
  return `${tensor}:tz:${chunk}:${stream}`;
}

/** U8 tensor holding the stored piece of one of a tensor's tensor streams. */
export function tensorPieceName(tensor: string, stream: string): string {
  return `${tensor}:tz:tensor:${stream}`;
}

/** U8 tensor holding one stored piece of a carried file, or of a shard's original header. */
export function filePieceName(kind: 'file' | 'header', path: string, chunk: number): string {
  return `__${kind}__:${path}:tz:${chunk}`;
}

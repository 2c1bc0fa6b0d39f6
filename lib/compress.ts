// compress: model -> .tzip. A straight line: open and validate the input, assign a method to
// every tensor (all specs checked before any work), then stream each tensor chunk by chunk
// through method -> LZMA stage -> container writer. Memory is bounded by a few chunks.
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { backendInfo } from './backend';
import { FORMAT_VERSION, filePieceName, pieceName, type ContainerMeta, type FileRecord, type PieceRecord, type ShardRecord, type TensorRecord } from './container/format';
import { ContainerWriter } from './container/writer';
import { DTYPE_SIZES, numelOf } from './io/dtypes';
import { openModelSource, type ModelSource, type SourceTensor } from './io/model-source';
import { compressPieces, formatLzma, parseLzma, type LzmaSetting } from './lzma';
import { toF32 } from './methods/f32';
import { chunkElements, type JobContext } from './methods/method';
import { parseSpec, type MethodChoice } from './methods/registry';
import { addSums, emptySums, metricsFromSums, metricsRecord, type ErrorMetrics } from './metrics';
import { native } from './native';
import { assign, parsePolicy } from './policy';
import { defaultThreads } from './threads';
import { version } from './version';

export interface CompressOptions {
  /** Method spec for weight matrices (default 'lossless'). */
  method?: string;
  /** Glob pattern -> method spec, first match wins, before the default policy. */
  policy?: Record<string, string>;
  /** 'auto' (default), 'off', or a preset '0'-'9' (optionally 'e' for extreme). */
  lzma?: string;
  threads?: number;
  /** Tensors with NaN/Inf under a lossy method: store them lossless (default) or fail. */
  nonFinite?: 'lossless' | 'error';
  signal?: AbortSignal;
  onProgress?: (p: CompressProgress) => void;
}

export interface CompressProgress {
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
  seconds: number;
}

export interface CompressReport {
  input: string;
  output: string;
  tensors: TensorReport[];
  files: string[];
  originalBytes: number;
  containerBytes: number;
  ratio: number;
  weights: number;
  bitsPerWeight: number;
  /** Only the lossy tensors: their weights and stored bits per weight. */
  lossy: { weights: number; storedBytes: number; bitsPerWeight: number } | null;
  seconds: number;
  device: string;
}

/** Stored pieces of carried files are cut at this size. */
const FILE_CHUNK = 1 << 23;

export async function compress(input: string, output: string, options: CompressOptions = {}): Promise<CompressReport> {
  const t0 = process.hrtime.bigint();
  const lzma = parseLzma(options.lzma ?? 'auto');
  const base = parseSpec(options.method ?? 'lossless');
  const rules = parsePolicy(options.policy ?? {});
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), signal: options.signal };
  const source = await openModelSource(input);
  try {
    if (!source.tensors.length) throw new Error(`${input}: the model has no tensors`);
    if (path.resolve(output).startsWith(path.resolve(source.root) + path.sep) && source.kind === 'directory')
      throw new Error(`${output}: the output must not be inside the input directory`);
    const plan = source.tensors.map((t) => ({ t, ...assign(t.entry, base, rules) }));
    const progress = progressTracker(source, options.onProgress);
    const writer = await ContainerWriter.create(output);
    try {
      const records: TensorRecord[] = [];
      const reports: TensorReport[] = [];
      for (const [i, p] of plan.entries()) {
        const s = process.hrtime.bigint();
        const { record, metrics } = await encodeTensor(source, p.t, p.choice, p.note, lzma, ctx, writer, options.nonFinite ?? 'lossless', (d) =>
          progress.tensor(i, p.t.entry.name, d, p.t.entry.byteLength),
        );
        records.push(record);
        reports.push({
          name: record.name,
          dtype: record.dtype,
          shape: record.shape,
          method: record.method,
          note: record.note,
          originalBytes: p.t.entry.byteLength,
          storedBytes: record.storedBytes,
          bitsPerWeight: record.bitsPerWeight,
          nominalBitsPerWeight: record.nominalBitsPerWeight,
          metrics,
          seconds: Number(process.hrtime.bigint() - s) / 1e9,
        });
      }
      const shards: ShardRecord[] = [];
      for (const s of source.shards) shards.push(await shardRecord(source, s, lzma, ctx, writer));
      const files: FileRecord[] = [];
      for (const f of source.extraFiles) files.push(await storeFile(path.join(source.root, f), f, 'file', lzma, ctx, writer, (d) => progress.file(d)));
      const weights = records.reduce((a, r) => a + numelOf(r.shape), 0);
      const meta: ContainerMeta = {
        formatVersion: FORMAT_VERSION,
        tool: `tensorzip ${version}`,
        options: { method: base.spec, lzma: formatLzma(lzma), ...(rules.length ? { policy: Object.fromEntries(rules.map((r) => [r.pattern, r.choice.spec])) } : {}) },
        source: { kind: source.kind, shards },
        tensors: records,
        files,
        totals: { originalBytes: source.totalBytes, weights },
      };
      const containerBytes = await writer.finish(meta);
      const lossy = reports.filter((r) => r.metrics);
      const lossyWeights = lossy.reduce((a, r) => a + numelOf(r.shape), 0);
      const lossyBytes = lossy.reduce((a, r) => a + r.storedBytes, 0);
      const info = backendInfo();
      return {
        input,
        output,
        tensors: reports,
        files: source.extraFiles,
        originalBytes: source.totalBytes,
        containerBytes,
        ratio: source.totalBytes / containerBytes,
        weights,
        bitsPerWeight: weights ? (8 * containerBytes) / weights : 0,
        lossy: lossy.length ? { weights: lossyWeights, storedBytes: lossyBytes, bitsPerWeight: (8 * lossyBytes) / lossyWeights } : null,
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        device: `cpu (${info.cpu}, ${ctx.threads} threads)`,
      };
    } catch (e) {
      await writer.abort();
      throw e;
    }
  } finally {
    await source.close();
  }
}

async function encodeTensor(
  source: ModelSource,
  t: SourceTensor,
  assigned: MethodChoice,
  assignedNote: string | undefined,
  lzma: LzmaSetting,
  ctx: JobContext,
  writer: ContainerWriter,
  nonFinite: 'lossless' | 'error',
  onBytes: (done: number) => void,
): Promise<{ record: TensorRecord; metrics?: ErrorMetrics }> {
  const { entry } = t;
  const file = source.shards[t.shard].file;
  let choice = assigned;
  let note = assignedNote;
  const size = DTYPE_SIZES[entry.dtype];
  if (choice.method.lossy) {
    // Checked before encoding: a chunked encode cannot change method half way through.
    const bad = await countNonFinite(file, entry, chunkElements(choice.method.chunkUnit(choice.params)), size);
    if (bad) {
      const what = `${entry.name}: ${bad} NaN/Inf value${bad > 1 ? 's' : ''}`;
      if (nonFinite === 'error') throw new Error(`${what}; ${choice.spec} cannot encode them (use --nonfinite lossless to store such tensors lossless)`);
      note = `${bad} NaN/Inf value${bad > 1 ? 's' : ''}: stored lossless instead of ${choice.spec}`;
      choice = parseSpec('lossless');
    }
  }
  const { method, params } = choice;
  const chunk = chunkElements(method.chunkUnit(params));
  const streams = method.streamNames(params, entry.dtype);
  const chunks = Math.ceil(entry.numel / chunk);
  const batch = Math.max(1, ctx.threads);
  const pieces: PieceRecord[][] = [];
  const sums = emptySums();
  for (let c0 = 0; c0 < chunks; c0 += batch) {
    const raws: Uint8Array[] = [];
    for (let c = c0; c < Math.min(chunks, c0 + batch); c++) {
      const elements = Math.min(chunk, entry.numel - c * chunk);
      const raw = await file.read(entry, c * chunk * size, elements * size);
      const enc = await method.encode(params, entry.dtype, raw, ctx);
      if (enc.decoded) addSums(sums, native.errorSums(toF32(entry.dtype, raw), toF32(entry.dtype, enc.decoded)));
      raws.push(...enc.streams);
    }
    const stored = await compressPieces(raws, lzma, ctx.threads, ctx.signal);
    for (let k = 0; k < stored.length; k++) {
      const c = c0 + Math.floor(k / streams.length);
      const s = k % streams.length;
      (pieces[c] ??= [])[s] = await writer.addPiece(pieceName(entry.name, c, streams[s]), stored[k]);
    }
    onBytes(Math.min(entry.byteLength, (c0 + batch) * chunk * size));
  }
  const storedBytes = pieces.flat().reduce((a, p) => a + p.bytes, 0);
  const metrics = method.lossy ? metricsFromSums(sums) : undefined;
  const record: TensorRecord = {
    name: entry.name,
    shard: t.shard,
    dtype: entry.dtype,
    shape: entry.shape,
    method: choice.spec,
    chunkElements: chunk,
    streams,
    pieces,
    storedBytes,
    bitsPerWeight: entry.numel ? (8 * storedBytes) / entry.numel : 0,
    nominalBitsPerWeight: method.nominalBits(params, entry.dtype, entry.numel),
    ...(metrics ? { metrics: metricsRecord(metrics) } : {}),
    ...(note ? { note } : {}),
  };
  return { record, metrics };
}

async function countNonFinite(file: ModelSource['shards'][number]['file'], entry: SourceTensor['entry'], chunk: number, size: number): Promise<number> {
  let bad = 0;
  for (let e = 0; e < entry.numel; e += chunk) {
    const n = Math.min(chunk, entry.numel - e);
    bad += native.countNonFinite(toF32(entry.dtype, await file.read(entry, e * size, n * size)));
  }
  return bad;
}

/** A shard's record; for a standard layout (tensors tiling the data section) its header too. */
async function shardRecord(source: ModelSource, s: ModelSource['shards'][number], lzma: LzmaSetting, ctx: JobContext, writer: ContainerWriter): Promise<ShardRecord> {
  const h = s.file.header;
  let end = h.dataStart;
  for (const t of h.tensors) end = t.offset === end ? t.offset + t.byteLength : -1;
  const exact = end === h.fileSize;
  return {
    path: s.relPath,
    bytes: s.bytes,
    layout: exact ? 'exact' : 'repacked',
    ...(exact ? { header: await storeFile(path.join(source.root, s.relPath), s.relPath, 'header', lzma, ctx, writer, () => undefined, h.dataStart) } : {}),
    ...(h.metadata ? { metadata: h.metadata } : {}),
    tensors: h.tensors.map((t) => t.name),
  };
}

/** Stores a file (or its first `limit` bytes) in pieces of FILE_CHUNK bytes. */
async function storeFile(
  file: string,
  rel: string,
  kind: 'file' | 'header',
  lzma: LzmaSetting,
  ctx: JobContext,
  writer: ContainerWriter,
  onBytes: (done: number) => void,
  limit?: number,
): Promise<FileRecord> {
  const fh = await open(file, 'r');
  try {
    const bytes = limit ?? (await fh.stat()).size;
    const pieces: PieceRecord[] = [];
    let crc = 0;
    for (let pos = 0, c = 0; pos < bytes; pos += FILE_CHUNK, c++) {
      const buf = Buffer.alloc(Math.min(FILE_CHUNK, bytes - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead !== buf.length) throw new Error(`${file}: changed while being read`);
      crc = zlib.crc32(buf, crc);
      const [stored] = await compressPieces([buf], lzma, ctx.threads, ctx.signal);
      pieces.push(await writer.addPiece(filePieceName(kind, rel, c), stored));
      onBytes(buf.length);
    }
    return { path: rel, bytes, crc32: crc, chunkBytes: FILE_CHUNK, pieces };
  } finally {
    await fh.close();
  }
}

function progressTracker(source: ModelSource, report?: (p: CompressProgress) => void) {
  const tensorCount = source.tensors.length;
  const before: number[] = []; // bytes of the tensors preceding each one
  let tensorsTotal = 0;
  for (const t of source.tensors) before.push(tensorsTotal), (tensorsTotal += t.entry.byteLength);
  let filesDone = 0;
  const total = source.totalBytes;
  return {
    tensor(index: number, name: string, done: number, size: number) {
      report?.({ tensorIndex: index, tensorCount, tensorName: name, tensorDone: done, tensorTotal: size, done: before[index] + done, total });
    },
    file(bytes: number) {
      filesDone += bytes;
      report?.({ tensorIndex: tensorCount, tensorCount, tensorName: '(other files)', tensorDone: 0, tensorTotal: 0, done: tensorsTotal + filesDone, total });
    },
  };
}

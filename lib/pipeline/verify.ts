// verify: decodes every shard header, tensor and file of a container as decompress does (the same
// code and checks: a container that decompress refuses makes verify throw) and compares them with
// the original model: lossless tensors and files must be bit-exact; lossy tensors get their error
// measured again, which must equal the error recorded at compression time.
import { compressReportFromMeta } from './inspect';
import { ContainerReader } from '../container/reader';
import type { FileRecord, TensorRecord } from '../container/format';
import { shardOutput } from '../container/output';
import { openModelSource, type ModelSource, type SourceTensor } from '../io/model-source';
import { readExactly, SafetensorsFile } from '../io/safetensors';
import { FORMAT_NAME } from '../container/format';
import { stat } from 'node:fs/promises';
import { openRegularFile } from '../io/regular-file';
import * as path from 'node:path';
import type { JobContext } from '../jobs';
import { DeviceUse, resolveDevice, type DeviceSpec } from '../device';
import { addSums, describeMetrics, emptySums, metricsFromSums, metricsRecord, type ErrorMetrics } from './metrics';
import { chunkErrorSums } from '../methods/f32';
import { defaultThreads } from '../core/threads';
import { DECODE_AHEAD, runAhead } from '../core/ahead';
import { BufferPool, takeBuffer } from '../core/buffer-pool';
import type { Totals } from './totals';
import type { Progress } from '../core/progress';

export interface VerifyOptions {
  threads?: number;
  /** Where the decoders run, as decompress's (default 'auto'). */
  device?: DeviceSpec;
  signal?: AbortSignal;
  /** After each tensor (unit 'tensors'). */
  onProgress?: (p: Progress) => void;
}

export interface TensorVerification {
  name: string;
  method: string;
  /** Lossless: bit-exact. Lossy: the measured error equals the recorded one. */
  ok: boolean;
  metrics?: ErrorMetrics;
  problem?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** The original compared with, or undefined for an integrity test of the container alone. */
  against?: string;
  tensors: TensorVerification[];
  files: Array<{ path: string; ok: boolean; problem?: string }>;
  problems: string[];
  summary: Totals;
}

const sameNumber = (a: number | null | undefined, b: number | null | undefined) =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)));

/** With `original`: decodes everything and compares it with the original model. Without: an
 * integrity test (as `xz -t`): every checksum, every piece decoded, and the recorded figures
 * consistent with each other and with the stored bytes. A corrupt container throws. */
export async function verify(container: string, original?: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  // As in decompress: pieces, decoded chunks and the original's chunks come from a pool.
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), device: new DeviceUse(resolveDevice(options.device)).native, signal: options.signal, buffers: new BufferPool() };
  const reader = await ContainerReader.open(container);
  try {
    if (original !== undefined && (await isContainer(original)))
      throw new Error(`--against ${original} is a tensorzip container, not an original model: give the model the container was made from (or no --against, to test the container alone)`);
    // The original's files as the container's run chose them (its --exclude / --include).
    const { exclude, include } = reader.meta.options;
    const source = original === undefined ? undefined : await openModelSource(original, { exclude, include });
    try {
      const problems: string[] = [];
      const shardProblems: string[] = [];
      const tensors: TensorVerification[] = [];
      const inSource = new Map(source?.tensors.map((t) => [t.entry.name, t]));
      // Shard by shard through what decompress writes (container/output.ts): every check it makes
      // is made here too, and every tensor is decoded whole even when it cannot be compared.
      for (const s of reader.meta.source.shards) {
        const out = await shardOutput(reader, s, ctx);
        if (s.header && source) {
          const shard = source.shards.find((x) => x.relPath === s.path);
          if (!shard) shardProblems.push(`shard ${s.path}: not in the original model`);
          else if (!out.header.equals(await shard.file.headerBytes())) shardProblems.push(`shard ${s.path}: stored header differs from the original`);
        }
        for (const t of out.tensors) {
          const v = source ? await verifyTensor(reader, t, source, inSource.get(t.name), ctx) : await testTensor(reader, t, ctx);
          inSource.delete(t.name);
          tensors.push(v);
          if (v.problem) problems.push(`tensor ${t.name}: ${v.problem}`);
          options.onProgress?.({ done: tensors.length, total: reader.meta.tensors.length, unit: 'tensors', item: t.name });
        }
      }
      for (const name of inSource.keys()) problems.push(`tensor ${name}: in the original model but not in the container`);
      const files: VerifyReport['files'] = [];
      for (const f of reader.meta.files) {
        const problem = source ? await compareFile(reader, f, path.join(source.root, f.path), ctx) : await testFile(reader, f, ctx);
        files.push({ path: f.path, ok: !problem, ...(problem ? { problem } : {}) });
        if (problem) problems.push(`file ${f.path}: ${problem}`);
      }
      for (const f of source?.extraFiles ?? []) if (!reader.meta.files.some((r) => r.path === f)) problems.push(`file ${f}: in the original model but not in the container`);
      problems.push(...shardProblems);
      return { ok: problems.length === 0, against: original, tensors, files, problems, summary: compressReportFromMeta(reader) };
    } finally {
      await source?.close();
    }
  } finally {
    await reader.close();
  }
}

/** Whether `p` is a tensorzip container (a file whose safetensors metadata says so). */
async function isContainer(p: string): Promise<boolean> {
  if (!(await stat(p).then((s) => s.isFile(), () => false))) return false;
  const file = await SafetensorsFile.open(p).catch(() => undefined);
  await file?.close();
  return file?.header.metadata?.format === FORMAT_NAME;
}

/** A tensor's chunks, decoded DECODE_AHEAD ahead of the one compared (a corrupt one throws). */
function decodeAhead(reader: ContainerReader, t: TensorRecord, ctx: JobContext): AsyncGenerator<Uint8Array> {
  return runAhead(reader.chunkDecoders(t, ctx), DECODE_AHEAD);
}

/** Without the original: the tensor decoded whole (its checksums and decoders checked), its
 * recorded bytes and figures consistent. */
async function testTensor(reader: ContainerReader, t: TensorRecord, ctx: JobContext): Promise<TensorVerification> {
  for await (const chunk of decodeAhead(reader, t, ctx)) ctx.buffers?.give(chunk);
  const problem = recordProblem(t, reader.method(t).method.lossy);
  return { name: t.name, method: t.method, ok: !problem, ...(problem ? { problem } : {}) };
}

/** What is inconsistent in a tensor's record: its stored bytes against its pieces, bits/weight
 * against its bytes, and (lossy) its error figures against each other. */
function recordProblem(t: TensorRecord, lossy: boolean): string | undefined {
  const pieces = [...(t.tensorPieces ?? []), ...t.pieces.flat()].reduce((a, p) => a + p.bytes, 0);
  if (pieces !== t.storedBytes) return `records ${t.storedBytes} stored bytes, but its pieces hold ${pieces}`;
  const numel = t.shape.reduce((a, d) => a * d, 1);
  if (numel && Math.abs(t.bitsPerWeight - (8 * t.storedBytes) / numel) > 1e-9 * t.bitsPerWeight) return `records ${t.bitsPerWeight} bits/weight, but its ${t.storedBytes} bytes give ${(8 * t.storedBytes) / numel}`;
  if (!lossy) return undefined;
  const m = t.metrics;
  if (!m) return 'a lossy tensor without recorded error figures';
  if (!(m.relativeError >= 0) || !(m.maxAbsError >= 0) || (m.cosine !== null && !(Math.abs(m.cosine) <= 1 + 1e-12)))
    return `records impossible error figures (${describeMetrics(m)})`;
  // snrDb = −20·log10(relativeError) by definition (null when the reconstruction is exact).
  const exact = m.relativeError === 0;
  if (exact !== (m.snrDb === null) || (!exact && m.relativeError !== Infinity && Math.abs(m.snrDb! + 20 * Math.log10(m.relativeError)) > 1e-6 * Math.max(1, Math.abs(m.snrDb!))))
    return `records error figures that disagree with each other (${describeMetrics(m)})`;
  return undefined;
}

/** Without the original: the file decoded whole, its checksum checked (a bad one throws). */
async function testFile(reader: ContainerReader, f: FileRecord, ctx: JobContext): Promise<string | undefined> {
  let bytes = 0;
  for await (const chunk of reader.readFile(f, ctx)) bytes += chunk.byteLength;
  return bytes === f.bytes ? undefined : `records ${f.bytes} bytes, but decodes to ${bytes}`;
}

/** Decodes a tensor (a corrupt one throws, as in decompress) and compares it with the original. */
async function verifyTensor(reader: ContainerReader, t: TensorRecord, source: ModelSource, orig: SourceTensor | undefined, ctx: JobContext): Promise<TensorVerification> {
  const v: TensorVerification = { name: t.name, method: t.method, ok: false };
  const comparable = orig && orig.entry.dtype === t.dtype && orig.entry.shape.join() === t.shape.join();
  if (!orig) v.problem = 'not in the original model';
  else if (!comparable) v.problem = `original is ${orig.entry.dtype} [${orig.entry.shape}], container has ${t.dtype} [${t.shape}]`;
  const lossy = reader.method(t).method.lossy;
  const sums = emptySums();
  let offset = 0;
  let mismatch = -1;
  for await (const chunk of decodeAhead(reader, t, ctx)) {
    if (comparable) {
      const want = await source.shards[orig.shard].file.read(orig.entry, offset, chunk.byteLength, takeBuffer(ctx.buffers, chunk.byteLength));
      if (lossy) addSums(sums, await chunkErrorSums(t.dtype, want, chunk, ctx));
      else if (mismatch < 0 && !Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).equals(want)) mismatch = offset + firstDiff(chunk, want);
      ctx.buffers?.give(want);
    }
    offset += chunk.byteLength;
    ctx.buffers?.give(chunk);
  }
  if (comparable && lossy) {
    v.metrics = metricsFromSums(sums);
    const recorded = t.metrics;
    const measured = metricsRecord(v.metrics);
    if (!recorded || !(Object.keys(measured) as Array<keyof typeof measured>).every((k) => sameNumber(measured[k], recorded[k])))
      v.problem = recorded ? `measured ${describeMetrics(measured)}; recorded ${describeMetrics(recorded)}` : 'a lossy tensor without recorded error figures';
  } else if (comparable && mismatch >= 0) v.problem = `not bit-exact: first difference at byte ${mismatch}`;
  v.ok = !v.problem;
  return v;
}

/** Decodes a carried file whole (its checksum checked; a corrupt one throws, as in decompress)
 * and compares it with the file on disk chunk by chunk (bounded memory). Returns the problem. */
async function compareFile(reader: ContainerReader, f: FileRecord, file: string, ctx: JobContext): Promise<string | undefined> {
  let problem: string | undefined;
  const fh = await openRegularFile(file).catch((e: Error) => {
    problem = e.message;
    return undefined;
  });
  try {
    if (fh && (await fh.stat()).size !== f.bytes) problem = 'content differs from the original';
    let position = 0;
    for await (const chunk of reader.readFile(f, ctx)) {
      if (!problem) {
        const want = Buffer.alloc(chunk.byteLength);
        await readExactly(fh!, want, position, file);
        if (!want.equals(chunk)) problem = 'content differs from the original';
      }
      position += chunk.byteLength;
    }
    return problem;
  } finally {
    await fh?.close();
  }
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

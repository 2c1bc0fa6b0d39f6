// verify: decodes every tensor and file of a container (checking every checksum) and compares
// them with the original model: lossless tensors and files must be bit-exact; lossy tensors get
// their error measured again, which must equal the error recorded at compression time.
import { compressReportFromMeta } from './inspect';
import { ContainerReader } from './container/reader';
import type { FileRecord } from './container/format';
import { openModelSource } from './io/model-source';
import { readExactly } from './io/safetensors';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { toF32 } from './methods/f32';
import type { JobContext } from './methods/method';
import { addSums, emptySums, metricsFromSums, metricsRecord, type ErrorMetrics } from './metrics';
import { native } from './native';
import { defaultThreads } from './threads';
import type { Totals } from './totals';

export interface VerifyOptions {
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
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
  tensors: TensorVerification[];
  files: Array<{ path: string; ok: boolean; problem?: string }>;
  problems: string[];
  summary: Totals;
}

const sameNumber = (a: number | null | undefined, b: number | null | undefined) =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)));

export async function verify(container: string, original: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), signal: options.signal };
  const reader = await ContainerReader.open(container);
  try {
    const source = await openModelSource(original);
    try {
      const problems: string[] = [];
      const tensors: TensorVerification[] = [];
      const inSource = new Map(source.tensors.map((t) => [t.entry.name, t]));
      for (const [i, t] of reader.meta.tensors.entries()) {
        const orig = inSource.get(t.name);
        inSource.delete(t.name);
        const v: TensorVerification = { name: t.name, method: t.method, ok: false };
        tensors.push(v);
        if (!orig) v.problem = 'not in the original model';
        else if (orig.entry.dtype !== t.dtype || orig.entry.shape.join() !== t.shape.join())
          v.problem = `original is ${orig.entry.dtype} [${orig.entry.shape}], container has ${t.dtype} [${t.shape}]`;
        else {
          const file = source.shards[orig.shard].file;
          const lossy = reader.method(t).method.lossy;
          const sums = emptySums();
          let offset = 0;
          let mismatch = -1;
          for await (const chunk of reader.decodeTensor(t, ctx)) {
            const want = await file.read(orig.entry, offset, chunk.byteLength);
            if (lossy) addSums(sums, native.errorSums(toF32(t.dtype, want), toF32(t.dtype, chunk)));
            else if (mismatch < 0 && !Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).equals(want))
              mismatch = offset + firstDiff(chunk, want);
            offset += chunk.byteLength;
          }
          if (lossy) {
            v.metrics = metricsFromSums(sums);
            const recorded = t.metrics;
            const measured = metricsRecord(v.metrics);
            if (!recorded || !(Object.keys(measured) as Array<keyof typeof measured>).every((k) => sameNumber(measured[k], recorded[k])))
              v.problem = `measured error ${JSON.stringify(measured)} differs from the recorded ${JSON.stringify(recorded)}`;
          } else if (mismatch >= 0) v.problem = `not bit-exact: first difference at byte ${mismatch}`;
        }
        v.ok = !v.problem;
        if (v.problem) problems.push(`tensor ${t.name}: ${v.problem}`);
        options.onProgress?.(i + 1, reader.meta.tensors.length);
      }
      for (const name of inSource.keys()) problems.push(`tensor ${name}: in the original model but not in the container`);
      const files: VerifyReport['files'] = [];
      for (const f of reader.meta.files) {
        let problem: string | undefined;
        try {
          if (!(await sameFile(reader, f, path.join(source.root, f.path), ctx))) problem = 'content differs from the original';
        } catch (e) {
          problem = e instanceof Error ? e.message : String(e);
        }
        files.push({ path: f.path, ok: !problem, ...(problem ? { problem } : {}) });
        if (problem) problems.push(`file ${f.path}: ${problem}`);
      }
      for (const f of source.extraFiles) if (!reader.meta.files.some((r) => r.path === f)) problems.push(`file ${f}: in the original model but not in the container`);
      for (const s of reader.meta.source.shards) {
        if (!s.header) continue;
        const shard = source.shards.find((x) => x.relPath === s.path);
        if (!shard) {
          problems.push(`shard ${s.path}: not in the original model`);
          continue;
        }
        const got = await reader.fileContent(s.header, ctx, 'header');
        if (!got.equals(await shard.file.headerBytes())) problems.push(`shard ${s.path}: stored header differs from the original`);
      }
      return { ok: problems.length === 0, tensors, files, problems, summary: compressReportFromMeta(reader) };
    } finally {
      await source.close();
    }
  } finally {
    await reader.close();
  }
}

/** Compares a carried file with a file on disk chunk by chunk (bounded memory). */
async function sameFile(reader: ContainerReader, f: FileRecord, file: string, ctx: JobContext): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    if ((await fh.stat()).size !== f.bytes) return false;
    let position = 0;
    for await (const chunk of reader.readFile(f, ctx)) {
      const want = Buffer.alloc(chunk.byteLength);
      await readExactly(fh, want, position, file);
      if (!want.equals(chunk)) return false;
      position += chunk.byteLength;
    }
    return true;
  } finally {
    await fh.close();
  }
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

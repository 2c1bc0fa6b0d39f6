// compress: model -> .tzip. A straight line: plan the run (lib/pipeline/plan.ts), encode every
// tensor chunk by chunk through method -> entropy stage (encode.ts), store the shard headers and the
// other files (files.ts), then write the container's header (lib/container/writer.ts). Memory is
// bounded by a few batches of chunks; each piece is written once, into the resume sidecar's data
// file, which becomes the container.
import * as path from 'node:path';
import { backendInfo } from '../backend';
import { FORMAT_VERSION, type ContainerMeta, type FileRecord, type ShardRecord } from '../container/format';
import { formatLzma } from '../container/stage';
import { ContainerWriter } from '../container/writer';
import { BufferPool } from '../core/buffer-pool';
import { defaultThreads } from '../core/threads';
import { DeviceUse, resolveDevice } from '../device';
import { numelOf } from '../io/dtypes';
import type { JobContext } from '../jobs';
import { version } from '../version';
import { encodeTensors, progressTracker } from './encode';
import { shardRecord, storeFile } from './files';
import { checkRunOutput, headerReserve, openRun, selectionOf } from './plan';
import { ResumeLog, type FinishedTensor } from './resume';
import { ReuseError } from './reuse';
import { totals } from './totals';
import type { CompressOptions, CompressReport } from './types';

export type { CompressOptions, CompressProgress, CompressReport, TensorReport } from './types';

export async function compress(input: string, output: string, options: CompressOptions = {}): Promise<CompressReport> {
  return writeContainer(input, output, options);
}

/** Finished tensors a container is written from instead of encoding them (the part files of a
 * merge, the results of a queue), and the key of the run that made them. */
export interface ReusedTensors {
  key: string;
  finished: FinishedTensor[];
}

/** The container; with `parts` (merge), every tensor is copied from part files, none encoded. */
export async function writeContainer(input: string, output: string, options: CompressOptions, parts?: ReusedTensors): Promise<CompressReport> {
  const t0 = process.hrtime.bigint();
  const device = new DeviceUse(resolveDevice(options.device));
  // Chunk reads and byte planes are reused batch after batch (page faults on fresh buffers).
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), device: device.native, signal: options.signal, buffers: new BufferPool() };
  const { source, plan, stage, base, rules, importance, nonFinite, key } = await openRun(input, output, options);
  try {
    await checkRunOutput(output, source, plan, options, { parts: parts?.finished });
    const progress = progressTracker(source, options.onProgress);
    if (parts && parts.key !== key) throw new Error(`${input} or the options are not what the parts were made from (input files changed since, other options, or another tensorzip version)`);
    const reserve = headerReserve(source, plan, options);
    const { log, finished, dataBytes } = parts
      ? { log: undefined, finished: parts.finished, dataBytes: undefined }
      : await ResumeLog.open(output, key, reserve, options.resume ?? false, options.force ?? false);
    const writer = await ContainerWriter.create(output, {
      reserve,
      dataPath: log && ResumeLog.dataPathFor(output),
      resume: dataBytes === undefined ? undefined : { dataBytes },
    }).catch(async (e) => {
      await log?.close(false); // nothing new was finished: the sidecar stays only if it held tensors
      throw e;
    });
    try {
      const todo = plan.map((_, i) => i).slice(finished.length);
      const { records, reports } = await encodeTensors(source, plan, stage, ctx, writer, { nonFinite, importance }, progress, log, finished, todo);
      const shards: ShardRecord[] = [];
      for (const s of source.shards) shards.push(await shardRecord(source, s, stage, ctx, writer));
      const files: FileRecord[] = [];
      for (const f of source.extraFiles) files.push(await storeFile(path.join(source.root, f), f, 'file', stage, ctx, writer, (d) => progress.file(d)));
      const meta: ContainerMeta = {
        formatVersion: FORMAT_VERSION,
        tool: `tensorzip ${version}`,
        options: {
          method: base.spec,
          coder: stage.coder,
          lzma: formatLzma(stage.lzma),
          ...(rules.length ? { policy: Object.fromEntries(rules.map((r) => [r.pattern, r.choice.spec])) } : {}),
          ...(options.importance ? { importance: path.basename(options.importance) } : {}),
          ...selectionOf(options),
        },
        source: { kind: source.kind, shards },
        tensors: records,
        files,
        totals: { originalBytes: source.totalBytes, weights: records.reduce((a, r) => a + numelOf(r.shape), 0) },
      };
      const containerBytes = await writer.finish(meta);
      await log?.close(true);
      const info = backendInfo();
      return {
        input,
        output,
        tensors: reports,
        files: source.extraFiles,
        weightBytes: source.totalBytes - source.extraBytes,
        carriedBytes: source.extraBytes,
        skipped: source.skipped,
        unmatched: source.unmatched,
        symlinks: source.symlinks,
        ...totals(reports, source.totalBytes, containerBytes),
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        device: device.describe(info.cpu, ctx.threads),
      };
    } catch (e) {
      // The sidecar and its data stay when they hold finished tensors: the staged pieces are
      // written out first, so that the log can name them.
      await writer.complete().catch(() => undefined);
      const keep = log ? await log.close(false) : false;
      await writer.abort(keep);
      // A sidecar that cannot be reused says so itself (remove it); any other failure can resume.
      if (keep && e instanceof Error && !(e instanceof ReuseError)) e.message += ` (finished tensors are kept in ${log!.path} and ${writer.dataPath}: run again with --resume to continue)`;
      throw e;
    }
  } finally {
    await source.close();
  }
}

/** What a queue coordinator needs before it hands out jobs: the run's key and the tensors (and
 * the output checked, before any work). */
export async function describeRun(input: string, output: string, options: CompressOptions): Promise<{ key: string; tensors: Array<{ name: string; bytes: number }> }> {
  const { source, key, plan } = await openRun(input, output, options);
  try {
    await checkRunOutput(output, source, plan, options);
    return { key, tensors: source.tensors.map((t) => ({ name: t.entry.name, bytes: t.entry.byteLength })) };
  } finally {
    await source.close();
  }
}

/** What compress would do, from the plan alone: nothing is read beyond the headers, nothing is
 * written. Bytes are before the entropy stage (which only shrinks them), and a lossy tensor
 * that turns out to hold NaN/Inf or values its method cannot represent would be stored lossless. */
export interface DryRunReport {
  input: string;
  tensors: Array<{ name: string; dtype: string; shape: number[]; method: string; note?: string; originalBytes: number; projectedBytes: number; bitsPerWeight: number }>;
  originalBytes: number;
  projectedBytes: number;
  weights: number;
  bitsPerWeight: number;
}

export async function dryRun(input: string, options: CompressOptions = {}): Promise<DryRunReport> {
  const { source, plan } = await openRun(input, '', options);
  try {
    const tensors = plan.map(({ t, choice, note }) => {
      const { dtype, shape, numel, byteLength } = t.entry;
      const p = choice.method.resolve ? choice.method.resolve(choice.params, shape) : choice.params;
      // Every stream the method stores, tensor-wide ones (vptq's codebooks) included.
      const projectedBytes = Math.round((choice.method.nominalBits(p, dtype, numel) * numel) / 8);
      return { name: t.entry.name, dtype, shape, method: choice.method.format(p), ...(note ? { note } : {}), originalBytes: byteLength, projectedBytes, bitsPerWeight: numel ? (8 * projectedBytes) / numel : 0 };
    });
    const weights = plan.reduce((a, { t }) => a + t.entry.numel, 0);
    const projectedBytes = tensors.reduce((a, t) => a + t.projectedBytes, 0);
    return { input, tensors, originalBytes: tensors.reduce((a, t) => a + t.originalBytes, 0), projectedBytes, weights, bitsPerWeight: weights ? (8 * projectedBytes) / weights : 0 };
  } finally {
    await source.close();
  }
}

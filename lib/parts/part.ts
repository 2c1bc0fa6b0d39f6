// Part files: some tensors of a run encoded by one process, for another to assemble. A part is
// the resume log's format (lib/pipeline/resume.ts) with format 'tensorzip-part' and its scope in
// the header: a shard of `compress --shard i/n` (merged by lib/parts/merge.ts) or one tensor of
// a queue job (lib/queue). It holds the finished tensors' records and pieces, in tensor order.
import { rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { recordOnly } from '../container/writer';
import type { StageSetting } from '../container/stage';
import { RunMismatchError } from '../core/errors';
import { defaultThreads } from '../core/threads';
import { DeviceUse, resolveDevice } from '../device';
import type { ModelSource } from '../io/model-source';
import { tempPathFor } from '../io/temp-files';
import type { Importance } from '../methods/importance';
import type { JobContext } from '../jobs';
import { encodeTensors, progressTracker } from '../pipeline/encode';
import { checkRunOutput, openRun, selectionOf, type Plan } from '../pipeline/plan';
import { ResumeLog } from '../pipeline/resume';
import type { CompressOptions, TensorReport } from '../pipeline/types';
import { shardTensors, type ShardSpec } from './shard';

/** Encodes only the tensors of `shard` (lib/parts/shard.ts) into a part file at `output`; merge()
 * assembles the parts of every shard into the container compress() would write. */
export async function compressShard(input: string, output: string, options: CompressOptions & { shard: ShardSpec }): Promise<PartReport> {
  if (options.resume) throw new Error('--resume applies to whole containers, not to --shard parts (run the shard again)');
  return writePartFile(input, output, options, { shard: options.shard });
}

/** Encodes one tensor (by index, which must have `name`) into a part file at `output`: a queue job
 * (lib/queue). The run's key must be `key`, or the input or options differ from the coordinator's. */
export async function compressTensor(input: string, output: string, options: CompressOptions & { tensor: number; name: string; key: string }): Promise<PartReport> {
  return writePartFile(input, output, options, { tensor: options.tensor, name: options.name, key: options.key });
}

/** The tensors a part file holds: a shard of `compress --shard`, or one tensor of a queue job. */
export type PartScope = { shard: ShardSpec } | { tensor: number; name: string; key: string };

/** What `compress --shard` wrote. */
export interface PartReport {
  input: string;
  output: string;
  /** Absent for a queue job's part. */
  shard?: ShardSpec;
  /** Tensors of the model / of this shard. */
  tensorCount: number;
  tensors: TensorReport[];
  /** Original bytes of this shard's tensors. */
  originalBytes: number;
  partBytes: number;
  seconds: number;
}

export const PART_FORMAT = 'tensorzip-part';

/** The compress options a part file records, for merge to run the same compress again. */
export type PartOptions = Pick<CompressOptions, 'method' | 'policy' | 'coder' | 'lzma' | 'nonFinite' | 'importance' | 'exclude' | 'include'>;

/** The options a part records, with file paths made absolute for processes elsewhere. */
export function partOptions(options: CompressOptions): PartOptions {
  return { method: options.method, policy: options.policy, coder: options.coder, lzma: options.lzma, nonFinite: options.nonFinite ?? 'lossless', importance: options.importance && path.resolve(options.importance), ...selectionOf(options) };
}

/** The part's tensors encoded into a part file at `output`, after the same plan and output
 * checks as a container. */
async function writePartFile(input: string, output: string, options: CompressOptions, scope: PartScope): Promise<PartReport> {
  const t0 = process.hrtime.bigint();
  const device = new DeviceUse(resolveDevice(options.device));
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), device: device.native, signal: options.signal };
  const { source, plan, stage, importance, nonFinite, key } = await openRun(input, output, options);
  try {
    await checkRunOutput(output, source, plan, options, { part: 'shard' in scope ? 'shard' : 'job' });
    // What merge needs to run the same compress again over the parts.
    const recorded = partOptions({ ...options, nonFinite });
    return await writePart(input, output, scope, recorded, { source, plan, stage, ctx, key, how: { nonFinite, importance }, progress: progressTracker(source, options.onProgress), t0 });
  } finally {
    await source.close();
  }
}

/** The part's tensors (this shard's, lib/parts/shard.ts, or a queue job's one) encoded into a part file
 * at `output`, written under a temp name and renamed when complete. */
async function writePart(
  input: string,
  output: string,
  scope: PartScope,
  recorded: PartOptions,
  run: {
    source: ModelSource; plan: Plan; stage: StageSetting; ctx: JobContext; key: string;
    how: { nonFinite: 'lossless' | 'error'; importance?: Importance }; progress: ReturnType<typeof progressTracker>; t0: bigint;
  },
): Promise<PartReport> {
  const { source, plan } = run;
  let order: number[];
  if ('shard' in scope) {
    order = shardTensors(source.tensors.map((t) => t.entry.byteLength), scope.shard.count)[scope.shard.index];
  } else {
    if (scope.key !== run.key) throw new RunMismatchError(`${input} or the options are not what the coordinator saw (input files changed since, other options, or another tensorzip version)`);
    if (plan[scope.tensor]?.t.entry.name !== scope.name) throw new RunMismatchError(`${input}: tensor ${scope.tensor} is not ${scope.name} (the input changed)`);
    order = [scope.tensor];
  }
  const temp = tempPathFor(output);
  const where = 'shard' in scope ? { shard: scope.shard } : { tensor: scope.tensor };
  const log = await ResumeLog.create(temp, { format: PART_FORMAT, key: run.key, input: path.resolve(input), options: recorded, ...where, tensors: plan.length }, output);
  try {
    const { reports } = await encodeTensors(source, plan, run.stage, run.ctx, recordOnly, run.how, run.progress, log, [], order);
    await log.commit(output);
    return {
      input,
      output,
      ...where,
      tensorCount: plan.length,
      tensors: reports,
      originalBytes: order.reduce((a, i) => a + plan[i].t.entry.byteLength, 0),
      partBytes: (await stat(output)).size,
      seconds: Number(process.hrtime.bigint() - run.t0) / 1e9,
    };
  } catch (e) {
    await log.close(false);
    await rm(temp, { force: true });
    throw e;
  }
}

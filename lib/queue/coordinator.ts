// `compress --queue redis://…`: the coordinator of queue mode. It adds one BullMQ job per tensor
// (largest first, so the last jobs to start are short ones), follows the jobs' events for
// progress, checks each result's checksum as it arrives, and when every tensor has its result
// writes the container from the results as merge does: byte for byte what `compress` writes.
//
// What survives a coordinator that dies: the jobs (in Redis, completed ones kept until the run
// ends) and the results (in the work directory). Run again, it keeps every valid result, adds the
// jobs again under the same ids (BullMQ ignores the ones it still holds, so a tensor finished
// while no coordinator ran is not encoded again) and waits only for the rest. Retrying a job
// whose worker died is BullMQ's stalled-job check, run by the workers.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { describeRun, writeContainer, type CompressOptions, type CompressReport } from '../pipeline/compress';
import { partOptions } from '../parts/part';
import { AbortError } from '../core/errors';
import { withDeadline } from '../core/deadline';
import type { FinishedTensor } from '../pipeline/resume';
import { checkReachable } from './connection';
import { parseQueueTarget } from './target';
import { errorWords, makeDirs, probeWrite } from '../io/output-path';
import { isRunFile, JOB_NAME, jobId, readResult, resultPath, runDirFor, runIdFor, type TensorJob, type TensorJobResult } from './jobs';

export interface QueueOptions extends CompressOptions {
  /** redis://host[:port][/db] */
  queue: string;
  queueName?: string;
  /** Where workers write results: a directory every worker sees at this same path (default `<output>.queue`). */
  workDir?: string;
  /** Attempts per job when its worker reports an error (a dead worker's job is retried apart from these). */
  attempts?: number;
  /** Seconds the run waits for a queue that does not answer (Redis down or unreachable) before it
   * stops with an error, keeping the finished results for the next run (default 30). */
  patience?: number;
  onQueue?: (s: QueueStatus) => void;
}

export interface QueueStatus {
  tensors: number;
  done: number;
  /** Results an earlier coordinator of this run left, reused. */
  reused: number;
  active: number;
  workers: number;
  /** Original bytes of the finished tensors plus the reported part of the running ones / of all. */
  bytesDone: number;
  bytesTotal: number;
}

export interface QueueReport extends CompressReport {
  queue: {
    url: string; name: string; workDir: string; jobs: number; reused: number; workers: string[];
    /** Seconds the workers spent on the jobs this coordinator saw complete (reading, encoding, writing, checksum). */
    jobSeconds: number;
    /** Seconds spent writing the container from the results. */
    mergeSeconds: number;
  };
}

/** How often the coordinator also looks for itself: results whose event it missed, jobs lost. */
const SWEEP_MS = 2000;
/** How long taking back jobs and closing may wait on the queue when the run ends anyway. */
const CLEANUP_MS = 3000;

export async function compressQueued(input: string, output: string, options: QueueOptions): Promise<QueueReport> {
  const t0 = process.hrtime.bigint();
  if (options.resume) throw new Error('--resume does not apply to --queue: run the same command again and it reuses the finished tensors');
  const target = parseQueueTarget(options.queue, options.queueName);
  const { key, tensors } = await describeRun(input, output, options);
  const workDir = path.resolve(options.workDir ?? `${output}.queue`);
  await checkReachable(target);
  const runId = runIdFor(key, workDir, path.resolve(output));
  const runDir = runDirFor(workDir, runId);
  const createdWorkDir = await makeRunDir(workDir, runDir);

  const recorded = partOptions(options);
  const job = (i: number): TensorJob => ({ input: path.resolve(input), options: recorded, key, tensor: i, name: tensors[i].name, bytes: tensors[i].bytes, output: resultPath(runDir, i) });
  const results = new Map<number, FinishedTensor>();
  for (let i = 0; i < tensors.length; i++) {
    const r = await readResult(resultPath(runDir, i), key, i);
    if (r) results.set(i, r);
  }
  const reused = results.size;
  const bytesTotal = tensors.reduce((a, t) => a + t.bytes, 0);

  const connection = target.connection;
  const queue = new Queue<TensorJob, TensorJobResult>(target.name, { connection });
  const events = new QueueEvents(target.name, { connection });
  // ioredis reconnects on its own, for ever: the run says so once, and each call below gives up
  // when the queue has not answered for REDIS_PATIENCE_MS.
  const patience = options.patience ?? 30;
  let dropped: string | undefined;
  const onError = (e: NodeJS.ErrnoException) => {
    if (dropped === undefined) options.onNote?.(`lost the connection to the queue at ${target.display} (${e.code ?? e.message}); waiting up to ${patience} s for it`);
    dropped = e.code ?? e.message;
  };
  queue.on('error', onError);
  events.on('error', onError);
  const redis = <T>(p: Promise<T>, what: string) =>
    withDeadline(p, patience * 1000, () => new Error(`the queue at ${target.display} did not answer for ${patience} s while ${what}${dropped ? ` (${dropped})` : ''}`), options.signal);
  const byJob = new Map(tensors.map((_, i) => [jobId(runId, i), i]));
  const running = new Map<number, number>(); // tensor -> fraction reported
  const workersSeen = new Set<string>();
  const timed = new Set<number>(); // tensors whose job time is counted
  let jobSeconds = 0;
  let workers = 0;
  const status = (): QueueStatus => {
    let bytesDone = 0;
    for (const i of results.keys()) bytesDone += tensors[i].bytes;
    for (const [i, f] of running) bytesDone += f * tensors[i].bytes;
    return { tensors: tensors.length, done: results.size, reused, active: running.size, workers, bytesDone, bytesTotal };
  };
  const pending = () => tensors.map((_, i) => i).filter((i) => !results.has(i));
  const add = async (list: number[], replace = false) => {
    if (replace) await redis(Promise.all(list.map((i) => queue.remove(jobId(runId, i)))), 'replacing jobs');
    await redis(queue.addBulk(
      list
        .sort((a, b) => tensors[b].bytes - tensors[a].bytes || a - b)
        .map((i) => ({
          name: JOB_NAME,
          data: job(i),
          opts: { jobId: jobId(runId, i), attempts: options.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: true },
        })),
    ), 'adding jobs');
  };

  let failure: Error | undefined;
  try {
    await redis(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 'connecting');
    let wake: () => void = () => undefined;
    const finish = (e: Error) => {
      failure ??= e;
      wake();
    };
    events.on('progress', ({ jobId: id, data }) => {
      const i = byJob.get(id);
      if (i !== undefined && !results.has(i) && typeof data === 'number') running.set(i, Math.min(1, Math.max(0, data)));
      options.onQueue?.(status());
    });
    events.on('active', ({ jobId: id }) => {
      const i = byJob.get(id);
      if (i !== undefined && !results.has(i)) running.set(i, 0);
      options.onQueue?.(status());
    });
    const accept = async (i: number, value?: TensorJobResult) => {
      const r = await readResult(resultPath(runDir, i), key, i, value?.sha256);
      if (r) {
        results.set(i, r);
        running.delete(i);
        options.onQueue?.(status());
        if (results.size === tensors.length) wake();
      }
      return r;
    };
    events.on('completed', ({ jobId: id, returnvalue }) => {
      const i = byJob.get(id);
      if (i === undefined) return;
      const value = returnvalue as unknown as TensorJobResult;
      if (!timed.has(i)) timed.add(i), workersSeen.add(value.worker), (jobSeconds += value.seconds);
      if (results.has(i)) return; // the sweep found the file first
      accept(i, value).then(async (r) => {
        // The file is not what the worker wrote (storage not shared, or changed since): again.
        if (!r) await add([i], true);
      }).catch(finish);
    });
    events.on('failed', ({ jobId: id, failedReason }) => {
      const i = byJob.get(id);
      if (i !== undefined && !results.has(i)) finish(new Error(`${tensors[i].name} failed on the workers: ${failedReason}`));
    });
    if (results.size < tensors.length) await add(pending());
    options.onQueue?.(status());

    const onAbort = () => finish(new AbortError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    try {
      while (!failure && results.size < tensors.length) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, SWEEP_MS);
        });
        if (failure || results.size === tensors.length) break;
        // Results whose event was missed, jobs that are gone (failed while no coordinator
        // listened, or removed by hand) and completed jobs without a valid result: again.
        const lost: number[] = [];
        for (const i of pending()) {
          if (await accept(i)) continue;
          const state = await redis(queue.getJobState(jobId(runId, i)), 'checking the jobs');
          if (state === 'unknown' || state === 'completed') lost.push(i);
        }
        if (lost.length) await add(lost, true);
        workers = (await redis(queue.getWorkers(), 'counting the workers')).length;
        if (dropped !== undefined) options.onNote?.(`the queue at ${target.display} answers again`), (dropped = undefined);
        options.onQueue?.(status());
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (failure) {
      // Jobs not yet started are taken back (if the queue answers); results stay for the next run.
      await withDeadline(Promise.all(pending().map((i) => queue.remove(jobId(runId, i)).catch(() => 0))), CLEANUP_MS, () => new Error('')).catch(() => undefined);
      throw failure;
    }
    await redis(Promise.all(tensors.map((_, i) => queue.remove(jobId(runId, i)).catch(() => 0))), 'removing the finished jobs');
  } catch (e) {
    if (e instanceof Error && results.size) e.message += ` (${results.size} finished tensors are kept in ${runDir}: run the same command again to continue)`;
    else await removeRunDir(workDir, runDir, createdWorkDir);
    throw e;
  } finally {
    // A queue that does not answer is dropped: closing would wait for it for ever.
    const closed = await withDeadline(Promise.allSettled([events.close(), queue.close()]), CLEANUP_MS, () => new Error('')).then(() => true, () => false);
    if (!closed) for (const c of [events, queue]) void c.disconnect().catch(() => undefined); // may never settle either
  }

  const m0 = process.hrtime.bigint();
  const finished = tensors.map((_, i) => results.get(i)!);
  // Nothing is encoded here: the device is the workers' choice (worker --device).
  const report = (await writeContainer(input, output, { ...options, device: 'cpu', resume: false }, { key, finished })) as CompressReport;
  await removeRunDir(workDir, runDir, createdWorkDir);
  return {
    ...report,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    device: `queue ${target.display} (${target.name}): ${workersSeen.size} worker${workersSeen.size === 1 ? '' : 's'}`,
    queue: { url: target.display, name: target.name, workDir, jobs: tensors.length - reused, reused, workers: [...workersSeen].sort(), jobSeconds, mergeSeconds: Number(process.hrtime.bigint() - m0) / 1e9 },
  };
}

/** Creates the run's folder (and the work directory) and checks it is writable; returns whether
 * the work directory was created here (then it is removed with the run when it is empty). */
async function makeRunDir(workDir: string, runDir: string): Promise<boolean> {
  const existed = await stat(workDir).then(() => true, () => false);
  try {
    await makeDirs(runDir);
    await probeWrite(path.join(runDir, 'probe'));
  } catch (e) {
    throw new Error(`${workDir}: the work directory (shared with the workers) is not writable (${errorWords(e)})`);
  }
  return !existed;
}

/** The run's results and any temp files of workers that died, its folder, and the work directory
 * when this run created it and it is now empty. Nothing else in the work directory is touched. */
async function removeRunDir(workDir: string, runDir: string, createdWorkDir: boolean): Promise<void> {
  for (const name of await readdir(runDir).catch(() => [] as string[])) if (isRunFile(name)) await rm(path.join(runDir, name), { force: true });
  await rmdir(runDir).catch(() => undefined);
  if (createdWorkDir) await rmdir(workDir).catch(() => undefined);
}

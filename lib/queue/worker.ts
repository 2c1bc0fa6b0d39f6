// `tensorzip worker --queue redis://…`: takes tensor jobs from the BullMQ queue, one at a time,
// encodes each into its result part on shared storage, and returns the part's checksum. BullMQ
// keeps a lock on the job while it runs (renewed from this event loop: the encoding itself runs on
// native threads); when a worker dies the lock lapses, another worker's stalled-job check puts
// the job back in the queue, and it runs again there.
import * as os from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { compressTensor } from '../parts/part';
import { resolveDevice, type DeviceSpec } from '../device';
import { FormatError, RunMismatchError, SpecError } from '../core/errors';
import { defaultThreads } from '../core/threads';
import { withDeadline } from '../core/deadline';
import { checkReachable } from './connection';
import { JobRefused, Roots } from './confine';
import { parseQueueTarget } from './target';
import { fileSha256, isResultPath, JOB_NAME, type TensorJob, type TensorJobResult } from './jobs';

export interface WorkerOptions {
  queue: string;
  queueName?: string;
  threads?: number;
  /** Where this worker runs the kernels that have a GPU version (lib/device.ts; default auto). */
  device?: DeviceSpec;
  /** The trees jobs may read and write (confine.ts); required. */
  roots: string[];
  /** Seconds without a lock renewal after which a job counts as stalled (its worker gone). */
  lockSeconds?: number;
  signal?: AbortSignal;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { kind: 'ready'; queue: string; worker: string; device: string; roots: string[] }
  | { kind: 'start'; tensor: string; attempt: number }
  | { kind: 'done'; tensor: string; seconds: number; bytes: number }
  | { kind: 'failed'; tensor: string; error: string }
  | { kind: 'lost'; error: string };

export interface WorkerSummary {
  jobs: number;
  failed: number;
}

/** How often a stalled job may be taken back before it fails: a tensor that kills its workers
 * (e.g. out of memory) must not go round for ever. */
const MAX_STALLED = 2;

/** How long stopping may wait on the queue (putting the job back, closing). */
const CLOSE_MS = 3000;

/** Errors that another attempt would meet again: another input or version, a refused job, a bad
 * method or option, a malformed file, a missing or unreadable one. Others (a full disk, a lost
 * mount, out of memory) may pass, and the job is retried. */
function isDeterministic(e: unknown): boolean {
  if (e instanceof RunMismatchError || e instanceof JobRefused || e instanceof SpecError || e instanceof FormatError) return true;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOTREGULAR' || code === 'EACCES' || code === 'EPERM';
}

/** Runs until `signal` aborts. A job under way is then put back in the queue for another worker. */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const target = parseQueueTarget(options.queue, options.queueName);
  const device = resolveDevice(options.device);
  const roots = await Roots.resolve(options.roots);
  await checkReachable(target);
  const threads = options.threads ?? defaultThreads();
  const lockMs = Math.round((options.lockSeconds ?? 30) * 1000);
  const me = `${os.hostname()}:${process.pid}`;
  const summary: WorkerSummary = { jobs: 0, failed: 0 };
  let current: AbortController | undefined;

  const encodeJob = async (job: Job<TensorJob, TensorJobResult>, token?: string): Promise<TensorJobResult> => {
    if (job.name !== JOB_NAME) throw new UnrecoverableError(`not a tensorzip job: ${job.name}`);
    const d = job.data;
    // Whoever can write to the queue chooses what a worker writes: only result files, by name.
    if (typeof d.output !== 'string' || !isResultPath(d.output))
      throw new UnrecoverableError(`job ${job.id}: ${String(d.output)} is not a result file path`);
    options.onEvent?.({ kind: 'start', tensor: d.name, attempt: job.attemptsMade + 1 });
    const t0 = process.hrtime.bigint();
    const abort = (current = new AbortController());
    let lastReport = 0;
    try {
      await roots.check(d).catch((e) => {
        throw e instanceof JobRefused ? new JobRefused(`job ${job.id} (${d.name}) refused: ${e.message}`) : e;
      });
      const r = await compressTensor(d.input, d.output, {
        ...d.options,
        threads,
        device: device.cuda === undefined ? 'cpu' : `cuda:${device.cuda}`,
        tensor: d.tensor,
        name: d.name,
        key: d.key,
        signal: abort.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastReport < 1000) return;
          lastReport = now;
          job.updateProgress(p.tensorTotal ? p.tensorDone / p.tensorTotal : 0).catch(() => undefined);
        },
      });
      const result = { sha256: await fileSha256(d.output), bytes: r.partBytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9, worker: me };
      summary.jobs++;
      options.onEvent?.({ kind: 'done', tensor: d.name, seconds: result.seconds, bytes: result.bytes });
      return result;
    } catch (e) {
      if (abort.signal.aborted && token) {
        // Stopped by the user: back to the queue without spending an attempt (when the queue
        // answers; if not, the job's lock lapses and another worker takes it back).
        await withDeadline(job.moveToWait(token), CLOSE_MS, () => new Error('')).catch(() => undefined);
        throw new WaitingError();
      }
      summary.failed++;
      const message = e instanceof Error ? e.message : String(e);
      options.onEvent?.({ kind: 'failed', tensor: d.name, error: message });
      // What fails the same way on every worker and every attempt is not retried.
      if (isDeterministic(e)) throw new UnrecoverableError(message);
      throw e;
    } finally {
      current = undefined;
    }
  };

  const worker = new Worker<TensorJob, TensorJobResult>(target.name, encodeJob, {
    connection: { ...target.connection, maxRetriesPerRequest: null },
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: MAX_STALLED,
    autorun: false,
  });
  // Connection drops: ioredis reconnects on its own; the worker says so once per outage.
  let dropped = false;
  worker.on('error', (e: NodeJS.ErrnoException) => {
    if (!dropped) options.onEvent?.({ kind: 'lost', error: e.code ?? e.message });
    dropped = true;
  });
  worker.on('ready', () => (dropped = false));
  const stopped = new Promise<void>((resolve) => {
    // A queue that does not answer is dropped after CLOSE_MS: closing would wait for it for ever.
    const stop = () => {
      current?.abort();
      withDeadline(worker.close(), CLOSE_MS, () => new Error(''))
        .catch(() => void worker.disconnect().catch(() => undefined)) // may never settle either
        .then(resolve, resolve);
    };
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
  await worker.waitUntilReady();
  options.onEvent?.({ kind: 'ready', queue: `${target.display} (${target.name})`, worker: me, device: device.label, roots: roots.dirs });
  const running = worker.run();
  await stopped;
  // The run loop ends with the connection; one blocked on a queue that is gone is left behind.
  await withDeadline(running, CLOSE_MS, () => new Error('')).catch(() => undefined);
  return summary;
}

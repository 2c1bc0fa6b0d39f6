// `tensorzip bench queue`: queue mode against single-process compress on generated checkpoints.
// Speed-up: compress on 1 thread and on `workers` threads (the peers), then compress --queue with
// 1 and with `workers` worker processes of 1 thread each. Overhead: a model of many small tensors
// (where encoding costs little), compress on 1 thread against --queue with 1 worker: the time per
// tensor of each, and the queue round trip, which is what the run spends beyond its jobs and the
// container writing, per job. Every queue container is checked to equal compress's byte for byte.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../../pipeline/compress';
import { AbortError } from '../../core/errors';
import { describeShape, generateCheckpoint, parameterCount, type ModelShape } from '../generate';
import { checkReachable } from '../../queue/connection';
import { parseQueueTarget } from '../../queue/target';
import { compressQueued, type QueueReport } from '../../queue/coordinator';
import { startLocalRedis, type LocalRedis } from '../../queue/local-redis';
import { formatBytes, table } from '../../core/format';

export const QUEUE_BENCH_SHAPE: ModelShape = { hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, vocab: 32000 };
/** Many small tensors (219), for the overhead per tensor. */
export const QUEUE_OVERHEAD_SHAPE: ModelShape = { hidden: 64, intermediate: 128, layers: 24, heads: 2, kvHeads: 1, vocab: 256 };

export interface QueueBenchOptions {
  shape?: Partial<ModelShape>;
  method?: string;
  /** Worker processes of the larger run (default 2). */
  workers?: number;
  /** A Redis to use; default: a redis-server started on a free loopback port for the run. */
  queue?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface QueueBenchRow {
  run: string;
  seconds: number;
  /** For queue runs: the jobs' summed time and the container writing. */
  jobSeconds?: number;
  mergeSeconds?: number;
}

export interface QueueBenchResult {
  machine: string;
  shape: ModelShape;
  parameters: number;
  tensors: number;
  method: string;
  workers: number;
  rows: QueueBenchRow[];
  /** Queue time with 1 worker / with `workers` workers. */
  speedup: number;
  /** The small-tensor model: tensors, and seconds per tensor of compress on 1 thread, of --queue
   * with 1 worker (wall − container writing), and of its round trip (wall − Σ job − container). */
  overhead: { tensors: number; compressPerTensor: number; queuePerTensor: number; roundTripPerTensor: number };
}

export async function runQueueBench(options: QueueBenchOptions = {}): Promise<QueueBenchResult> {
  const shape = { ...QUEUE_BENCH_SHAPE, ...options.shape };
  const method = options.method ?? 'rtn:4';
  const workers = options.workers ?? 2;
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tz-bench-queue-'));
  let redis: LocalRedis | undefined;
  let workerProcs: ChildProcess[] = [];
  const stopWorkers = async () => {
    const all = workerProcs;
    workerProcs = [];
    await Promise.all(all.map((c) => (c.exitCode === null ? new Promise((r) => (c.once('exit', r), c.kill('SIGINT'))) : undefined)));
  };
  try {
    let url = options.queue;
    if (url) await checkReachable(parseQueueTarget(url));
    else url = (redis = await startLocalRedis()).url;
    log(`generating ${describeShape(shape)}`);
    const model = path.join(dir, 'model');
    await generateCheckpoint(model, shape);
    const rows: QueueBenchRow[] = [];
    // A queue run of `input`, checked byte for byte against compress's container.
    const queued = async (input: string, out: string, reference: Buffer): Promise<QueueReport> => {
      const r = await compressQueued(input, out, { method, queue: url, threads: 1, signal: options.signal });
      if (!(await readFile(out)).equals(reference)) throw new Error(`${out}: the queue run's container differs from compress's`);
      return r;
    };

    log(`compress ${method}, 1 thread`);
    const one = await compress(model, path.join(dir, 'single.tzip'), { method, threads: 1, signal: options.signal });
    rows.push({ run: 'compress, 1 thread', seconds: one.seconds });
    const reference = await readFile(path.join(dir, 'single.tzip'));
    log(`compress ${method}, ${workers} threads`);
    const many = await compress(model, path.join(dir, 'single-n.tzip'), { method, threads: workers, signal: options.signal });
    rows.push({ run: `compress, ${workers} threads`, seconds: many.seconds });

    const runs: QueueReport[] = [];
    for (const n of [1, workers]) {
      if (options.signal?.aborted) throw new AbortError();
      log(`compress --queue with ${n} worker${n > 1 ? 's' : ''} of 1 thread`);
      for (let i = 0; i < n; i++) workerProcs.push(await startWorker(url, dir));
      const out = path.join(dir, `queue-${n}.tzip`);
      const r = await queued(model, out, reference);
      if (r.queue.workers.length !== n) throw new Error(`${r.queue.workers.length} of ${n} workers took jobs`);
      runs.push(r);
      rows.push({ run: `queue, ${n} worker${n > 1 ? 's' : ''} × 1 thread`, seconds: r.seconds, jobSeconds: r.queue.jobSeconds, mergeSeconds: r.queue.mergeSeconds });
      await rm(out);
      await stopWorkers();
    }
    const [q1, qn] = runs;

    log(`overhead: ${describeShape(QUEUE_OVERHEAD_SHAPE)}, compress and --queue with 1 worker`);
    const small = path.join(dir, 'small');
    await generateCheckpoint(small, QUEUE_OVERHEAD_SHAPE);
    const s1 = await compress(small, path.join(dir, 'small.tzip'), { method, threads: 1, signal: options.signal });
    workerProcs.push(await startWorker(url, dir));
    const sq = await queued(small, path.join(dir, 'small-queue.tzip'), await readFile(path.join(dir, 'small.tzip')));
    const jobs = sq.queue.jobs;
    return {
      machine: `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs`,
      shape,
      parameters: parameterCount(shape),
      tensors: one.tensors.length,
      method,
      workers,
      rows,
      speedup: q1.seconds / qn.seconds,
      overhead: {
        tensors: jobs,
        compressPerTensor: s1.seconds / s1.tensors.length,
        queuePerTensor: (sq.seconds - sq.queue.mergeSeconds) / jobs,
        roundTripPerTensor: (sq.seconds - sq.queue.mergeSeconds - sq.queue.jobSeconds) / jobs,
      },
    };
  } finally {
    await stopWorkers();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatQueueBench(r: QueueBenchResult): string {
  const base = r.rows[0].seconds;
  const rows = r.rows.map((row) => [
    row.run,
    row.seconds.toFixed(2),
    `${(base / row.seconds).toFixed(2)}x`,
    row.jobSeconds === undefined ? '' : row.jobSeconds.toFixed(2),
    row.mergeSeconds === undefined ? '' : row.mergeSeconds.toFixed(2),
  ]);
  return [
    `queue mode, ${r.method}: ${r.parameters.toLocaleString('en-US')} parameters (${formatBytes(r.parameters * 2)} bf16), ${r.tensors} tensors; ${r.machine}`,
    '',
    table(['run', 'wall s', 'vs 1 thread', 'Σ job s', 'container s'], rows),
    '',
    `speed-up of ${r.workers} workers over 1: ${r.speedup.toFixed(2)}x`,
    `per tensor, ${r.overhead.tensors} small tensors: compress ${ms(r.overhead.compressPerTensor)}, --queue with 1 worker ${ms(r.overhead.queuePerTensor)} (container writing excluded), of which the queue round trip ${ms(r.overhead.roundTripPerTensor)} (outside the jobs)`,
    'every queue container was checked to equal the single-process one byte for byte',
  ].join('\n');
}

const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;

/** A `tensorzip worker` process of 1 thread confined to `root`, once it waits for jobs. */
async function startWorker(url: string, root: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'cli.js'), 'worker', '--queue', url, '--root', root, '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('waiting for jobs')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}) before taking jobs: ${text.trim()}`)));
  });
  return child;
}

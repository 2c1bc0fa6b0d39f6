// `tensorzip worker --devices all|0,1,…`: one worker process per GPU of this machine, each with
// `--device cuda:N` and an equal share of the CPU threads, stopped together. A worker per process
// keeps each GPU's failures (a crash, out of memory) to its own jobs, which the others take over.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { defaultThreads } from '../core/threads';

export interface DeviceWorkersOptions {
  queue: string;
  queueName: string;
  roots: string[];
  devices: number[];
  /** CPU threads for all workers together (default: all). */
  threads?: number;
  lockSeconds?: number;
  signal?: AbortSignal;
}

/** Runs until `signal` aborts (each worker then puts its job back) or every worker has exited;
 * throws when a worker exits with an error of its own. */
export async function runDeviceWorkers(options: DeviceWorkersOptions): Promise<void> {
  const threads = Math.max(1, Math.floor((options.threads ?? defaultThreads()) / options.devices.length));
  const cli = path.join(__dirname, '..', 'cli.js');
  const children: ChildProcess[] = options.devices.map((d) => {
    const args = ['worker', '--queue', options.queue, '--queue-name', options.queueName, '--device', `cuda:${d}`, '--threads', String(threads)];
    if (options.lockSeconds) args.push('--lock-timeout', String(options.lockSeconds));
    for (const r of options.roots) args.push('--root', r);
    return spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  const codes = await Promise.all(children.map((c) => new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)))));
  options.signal?.removeEventListener('abort', stop);
  // A worker stopped by the signal exits 143; any other failure is its own.
  const failed = codes.map((code, i) => ({ code, device: options.devices[i] })).filter(({ code }) => code !== 0 && !(stopping && code === 143));
  if (failed.length) throw new Error(`worker${failed.length > 1 ? 's' : ''} on ${failed.map((f) => `cuda:${f.device} (exit ${f.code})`).join(', ')} stopped with an error`);
}

// What every command shares when it runs: exit codes, notes on stderr, Ctrl-C and kill as an
// AbortSignal, a progress bar, printing a report (or JSON), and turning an error into words and
// an exit code.
import { CommanderError } from 'commander';
import { SingleBar } from 'cli-progress';
import { formatBytes } from '../core/format';
import { readProblem } from '../io/regular-file';
import type { Progress } from '../core/progress';
import { SpecError } from '../core/errors';

/** A module of lib/ loaded when a command needs it (path relative to lib/cli/), not when the CLI
 * starts: the tools and the queue (BullMQ) stay out of every other command. */
export function lazy<T>(modulePath: string): T {
  try {
    return require(modulePath) as T; // eslint-disable-line @typescript-eslint/no-require-imports
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /Cannot find module '([^']+)'/.exec((e as Error).message)?.[1];
    if (missing && QUEUE_PACKAGES.has(missing))
      throw new Error('queue mode (--queue, worker, bench queue) needs the npm packages bullmq and ioredis, optional peer dependencies of tensorzip not installed here: npm install bullmq@^5 ioredis@^5');
    throw e;
  }
}

/** Optional peer dependencies (package.json): installed only by those who run queue mode. */
const QUEUE_PACKAGES = new Set(['bullmq', 'ioredis']);

/** 3: verify --against found a difference; 4: bench kernels / bench e2e --compare found a row
 * that regressed past its tolerance (a slower build, not a broken run). */
export const EXIT = { error: 1, usage: 2, verifyFailed: 3, regressed: 4 } as const;

/** Notes that are not errors (leftovers removed, a possible lack of space) go to stderr. */
export const note = (line: string) => console.error(`tensorzip: ${line}`);

const SIGNAL_EXIT = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
let interruptedBy: keyof typeof SIGNAL_EXIT | undefined;

/** Ctrl-C, a closed terminal or `kill` abort the running job, which then removes its temp files;
 * a second signal exits at once. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  for (const sig of Object.keys(SIGNAL_EXIT) as Array<keyof typeof SIGNAL_EXIT>)
    process.once(sig, () => {
      interruptedBy ??= sig;
      controller.abort();
      process.once(sig, () => process.exit(SIGNAL_EXIT[sig]));
    });
  return controller.signal;
}

/** A progress bar on stderr when it is a terminal and output is not JSON: elapsed time, ETA
 * and, when the counts are bytes, the throughput so far. */
function progressBar(json: boolean | undefined) {
  if (json || !process.stderr.isTTY) return undefined;
  const bar = new SingleBar(
    { format: '{bar} {percentage}% | {duration_formatted} elapsed, ETA {eta_formatted}{rate} | {item}', stream: process.stderr, etaBuffer: 50, hideCursor: true, clearOnComplete: true },
  );
  let started = false;
  const t0 = performance.now();
  return {
    update({ done, total, unit, item }: Progress) {
      const seconds = (performance.now() - t0) / 1000;
      const rate = unit !== 'bytes' ? '' : seconds > 0.5 ? ` | ${formatBytes(done / seconds)}/s` : ' | -';
      if (!started) bar.start(total, 0, { item, rate }), (started = true);
      bar.setTotal(total);
      bar.update(done, { item, rate });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Runs fn with a progress callback that drives a bar (when there is one), always stopping it. */
export async function withProgress<T>(json: boolean | undefined, fn: (update: (p: Progress) => void) => Promise<T>): Promise<T> {
  const bar = progressBar(json);
  try {
    return await fn((p) => bar?.update(p));
  } finally {
    bar?.stop();
  }
}

export function print(json: boolean | undefined, value: unknown, human: () => string) {
  console.log(json ? JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) : human());
}

/** Error and exit code of a failed command (commander has printed its own usage errors). */
export function reportFailure(e: unknown): void {
  if (e instanceof CommanderError) {
    // Commander has already printed its message (and help after errors).
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.usage;
    return;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  // Node's own text ('ENOENT: no such file or directory, open …') as the path and the problem in words.
  const sys = err as NodeJS.ErrnoException;
  let message = sys.code && sys.syscall && err.message.startsWith(`${sys.code}:`) ? `${sys.path ?? 'a file'}: ${readProblem(err)}` : err.message;
  if (err.name === 'AbortError') {
    const kept = err.message.replace(/^The operation was aborted/, ''); // what an interrupted run keeps for the next one
    message = `interrupted${interruptedBy && interruptedBy !== 'SIGINT' ? ` (${interruptedBy})` : ''}; no output was written${kept}`;
    process.exitCode = SIGNAL_EXIT[interruptedBy ?? 'SIGINT'];
  } else process.exitCode = err instanceof SpecError ? EXIT.usage : EXIT.error;
  console.error(message.startsWith('tensorzip: ') ? message : `tensorzip: ${message}`); // the addon's loader names itself for API users
  // A --json run also gets the error as JSON on stdout, where it reads the report.
  if (process.argv.includes('--json')) {
    const code = (err as NodeJS.ErrnoException).code;
    console.log(JSON.stringify({ error: { message, kind: err.name, ...(typeof code === 'string' ? { code } : {}), exitCode: process.exitCode } }, null, 2));
  }
}

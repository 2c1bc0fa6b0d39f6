import * as os from 'node:os';

/** Worker threads native jobs use when not told otherwise: the CPUs this process may run on. */
export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

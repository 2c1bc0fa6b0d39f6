// Temp files beside an output: every output is written under a hidden temp name and renamed
// into place when complete. The name records this host and process, so a later run can tell the
// leftovers of a killed run (SIGKILL, power loss: no handler ran) from those of a run still going,
// and remove them.
import { createHash } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

/** 8 hex digits naming this machine: a PID means something only on the host that owns it. */
const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/** A temp name beside the target, so the final rename stays on one filesystem. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${HOST}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

// .<base>.tmp-<host>-<pid>-<random>[.data]; names without a host (older versions) are this host's.
const TEMP_NAME = /^\.(.+)\.tmp-(?:([0-9a-f]{8})-)?([0-9]+)-[a-z0-9]+(?:\.data)?$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // someone else's live process
  }
}

export interface RemovedTemp {
  path: string;
  bytes: number;
}

/** Removes the temp files and directories that runs on this host, no longer alive, left for
 * `target` (and for any of `others`, outputs written beside it). Returns what was removed. */
export async function removeStaleTemps(target: string, others: string[] = []): Promise<RemovedTemp[]> {
  const dir = path.dirname(path.resolve(target));
  const bases = new Set([target, ...others].map((t) => path.basename(t)));
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: RemovedTemp[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || !bases.has(m[1]) || (m[2] !== undefined && m[2] !== HOST) || alive(Number(m[3]))) continue;
    const p = path.join(dir, name);
    const bytes = await sizeOf(p);
    await rm(p, { recursive: true, force: true });
    removed.push({ path: p, bytes });
  }
  return removed;
}

async function sizeOf(p: string): Promise<number> {
  const s = await lstat(p).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const name of await readdir(p).catch(() => [] as string[])) total += await sizeOf(path.join(p, name));
  return total;
}

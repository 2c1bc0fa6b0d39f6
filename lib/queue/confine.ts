// A worker's confinement (`tensorzip worker --root <dir>`, repeatable): whoever can add jobs to the
// queue chooses the paths a job names, so a worker reads and writes only inside the trees it was
// given, judged after every symlink is resolved (a link inside a root that points outside does
// not count as inside). A job naming anything else is refused before any file is opened.
import { realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { listModelFolder } from '../io/model-files';
import type { TensorJob } from './jobs';

/** A job this worker will not run, and why (deterministic: never retried). */
export class JobRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobRefused';
  }
}

export class Roots {
  private constructor(readonly dirs: string[]) {}

  /** The roots as given, resolved; each must be an existing folder. */
  static async resolve(dirs: string[]): Promise<Roots> {
    if (!dirs.length) throw new Error('give --root <dir> for each tree the jobs may read and write (the model and the work directory), or --root / to let whoever can add jobs use any file this worker can');
    const real: string[] = [];
    for (const d of dirs) {
      const r = await realpath(d).catch(() => {
        throw new Error(`--root ${d}: no such folder`);
      });
      if (!(await stat(r)).isDirectory()) throw new Error(`--root ${d}: not a folder`);
      real.push(r);
    }
    return new Roots(real);
  }

  private contains(real: string): boolean {
    return this.dirs.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
  }

  /** Throws JobRefused unless every path the job reads or writes lies inside a root. */
  async check(job: Pick<TensorJob, 'input' | 'output' | 'options'>): Promise<void> {
    const inside = async (p: string, what: string) => {
      if (typeof p !== 'string' || !path.isAbsolute(p)) throw new JobRefused(`its ${what} ${JSON.stringify(p)} is not an absolute path`);
      const real = await realpath(p).catch(() => {
        throw new JobRefused(`its ${what} ${p} does not exist on this worker`);
      });
      if (!this.contains(real)) throw new JobRefused(`its ${what} ${p}${real !== p ? ` (${real})` : ''} lies outside --root ${this.dirs.join(', ')}`);
      return real;
    };
    const input = await inside(job.input, 'input');
    if ((await stat(input)).isDirectory())
      for (const f of await listModelFolder(input)) {
        const real = f.target ?? path.join(input, f.rel);
        if (!f.problem && !this.contains(real)) throw new JobRefused(`its input's file ${f.rel} is a link to ${real}, outside --root ${this.dirs.join(', ')}`);
      }
    if (job.options?.importance !== undefined) await inside(job.options.importance, 'importance file');
    await inside(path.dirname(job.output), 'result folder');
  }
}

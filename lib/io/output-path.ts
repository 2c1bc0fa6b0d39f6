// The one check every command runs on the path it is asked to write, before any work: an output
// never replaces or lands inside what the run reads (after resolving symlinks), never replaces an
// existing file or directory unless asked (`force`), and its directory exists, is writable and,
// where the size is known, has room. Problems are named with the path the user gave, never a temp
// name. Leftover temp files of killed runs beside the output are removed (lib/io/temp-files.ts).
import { lstat, mkdir, open, readdir, realpath, rm, stat, statfs } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import * as path from 'node:path';
import { formatBytes } from '../core/format';
import { removeStaleTemps, tempPathFor, type RemovedTemp } from './temp-files';

export interface OutputRules {
  /** What is written at the path: a file, or a directory (replaced as a whole). */
  kind: 'file' | 'directory';
  /** What the run reads (files or directories): the output may not be one of them or lie inside
   * one, and a directory output may not hold one. */
  inputs: string[];
  /** Replace an existing output. */
  force?: boolean;
  /** Bytes the run writes beside the output at its peak, when they can be estimated; `exact`:
   * a known size (refused when it does not fit) rather than an upper bound (a note). */
  space?: { bytes: number; exact: boolean; what?: string };
  /** Other outputs written beside this one (e.g. a resume sidecar) whose temp leftovers to remove. */
  beside?: string[];
}

export interface CheckedOutput {
  /** The output with its directory's symlinks resolved. */
  resolved: string;
  /** Whether something is at the path now (replaced only with `force`). */
  exists: boolean;
  /** Lines for the user: removed leftovers, a possible lack of space. */
  notes: string[];
}

/** Checks `output` against `rules` (see OutputRules); throws an Error in words on any problem. */
export async function checkOutput(output: string, rules: OutputRules): Promise<CheckedOutput> {
  if (!output) throw new Error('the output path is empty');
  const shown = JSON.stringify(output).slice(1, -1) === output ? output : JSON.stringify(output);
  if (rules.kind === 'file' && /[/\\]$/.test(output))
    throw new Error(`${shown}: names a directory (it ends in /); give the file to write, such as ${path.join(output, 'model.tzip')}`);
  const parentGiven = path.dirname(output);
  const parent = await realpath(path.dirname(path.resolve(output))).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${shown}: ${e.code === 'ENOTDIR' ? `${parentGiven} is not a directory` : `the directory ${parentGiven} does not exist`}`);
  });
  if (!(await stat(parent)).isDirectory()) throw new Error(`${shown}: ${parentGiven} is not a directory`);

  const here = await lstat(output).catch(() => undefined);
  const target = here ? await stat(output).catch(() => undefined) : undefined; // undefined: nothing, or a dangling link
  const resolved = target ? await realpath(output) : path.join(parent, path.basename(output));

  for (const input of rules.inputs) {
    const real = await realpath(input).catch(() => undefined);
    if (!real) continue;
    const inStat = await stat(real);
    if (real === resolved || (target && target.ino === inStat.ino && target.dev === inStat.dev))
      throw new Error(`${shown} is the input ${input}: writing it would destroy the input; choose another output`);
    if (inside(resolved, real)) throw new Error(`${shown} lies inside the input ${input}; choose an output outside it`);
    if (rules.kind === 'directory' && inside(real, resolved)) throw new Error(`${shown} holds the input ${input}; choose another output directory`);
  }

  if (here) {
    if (rules.kind === 'file') {
      if (target?.isDirectory()) throw new Error(`${shown} is a directory; give the file to write, such as ${path.join(output, 'model.tzip')}`);
      if (!rules.force) throw new Error(`${shown} exists (use -f/--force to overwrite it)`);
      if (target && !target.isFile()) throw new Error(`${shown} exists and is not a regular file; it is not replaced even with --force`);
    } else {
      if (!target?.isDirectory()) throw new Error(`${shown} exists and is not a directory`);
      if ((await readdir(output)).length && !rules.force) throw new Error(`${shown} exists and is not empty (use -f/--force to replace it)`);
    }
  }

  await probeWrite(resolved).catch((e) => {
    throw new Error(`${shown}: cannot write in ${parentGiven} (${errorWords(e)})`);
  });
  const notes = removedNotes(await removeStaleTemps(resolved, rules.beside));
  if (rules.space) {
    const free = await freeBytes(parent);
    const { bytes, exact, what } = rules.space;
    if (free !== undefined && bytes > free) {
      const need = `${what ?? 'this run'} ${exact ? 'takes' : 'may take up to'} ${formatBytes(bytes)}, and ${parentGiven} has ${formatBytes(free)} free`;
      if (exact) throw new Error(`${shown}: not enough free space: ${need}`);
      notes.push(`${shown}: ${need}; the run may run out of space (it then stops with no output)`);
    }
  }
  return { resolved, exists: !!here, notes };
}

function inside(p: string, dir: string): boolean {
  return p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** Creates and removes a temp file beside `target`, throwing the file system's error: the only
 * test that also catches read-only mounts, /proc-like file systems and permissions (as root,
 * access() says yes to everything). */
export async function probeWrite(target: string): Promise<void> {
  const probe = tempPathFor(target);
  await (await open(probe, 'wx')).close();
  await rm(probe, { force: true });
}

function removedNotes(removed: RemovedTemp[]): string[] {
  if (!removed.length) return [];
  const bytes = removed.reduce((a, r) => a + r.bytes, 0);
  return [`removed ${removed.length} temp file${removed.length > 1 ? 's' : ''} (${formatBytes(bytes)}) left by an interrupted run: ${removed.map((r) => path.basename(r.path)).join(', ')}`];
}

async function freeBytes(dir: string): Promise<number | undefined> {
  const s = await statfs(dir).catch(() => undefined);
  return s && s.bavail * s.bsize;
}

/** fs error codes in words (readProblem, lib/io/regular-file.ts, words reads its own way first). */
export const FS_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
};

/** An fs error in words: "permission denied", or its message. */
export function errorWords(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err.code && FS_WORDS[err.code]) ?? err.message ?? String(e);
}

/** A file-system error while writing, reworded to name `what` (a path the user knows, not a temp
 * name) and, for a full disk, the free space there; other errors pass through unchanged. */
export function writeFailure(e: unknown, what: string, dir = path.dirname(path.resolve(what))): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code || !/^E[A-Z]+$/.test(code)) return e;
  let where = '';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    try {
      const s = statfsSync(dir);
      where = ` (${dir}: ${formatBytes(s.bavail * s.bsize)} free)`;
    } catch {
      where = ` (${dir})`;
    }
  }
  return new Error(`cannot write ${what}: ${errorWords(e)}${where}`, { cause: e });
}

/** mkdir -p, one level at a time. Node's recursive mkdir never returns for some paths (under
 * /proc it spins at 100 % CPU), so the missing levels are made here and the first failure is
 * thrown as it is. */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!(await stat(at).then(() => true, () => false))) {
    missing.push(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) await mkdir(d).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}

// The files of a model folder, by their path inside the folder, with symlinks followed: a
// Hugging Face cache snapshot (models--org--name/snapshots/<rev>/) holds nothing but symlinks
// into ../../blobs/<hash>, and people link shards or a tokenizer into a folder too. A file
// reached through a symlink keeps the name it has in the folder (never the blob's name); where
// it really lies is kept for the report. Links to folders are followed as well, except back into
// a folder they sit in (a loop).
import type { Stats } from 'node:fs';
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fileKind } from './regular-file';

export interface FolderFile {
  /** '/'-separated path inside the model folder. */
  rel: string;
  bytes: number;
  /** The real path, when a symlink was followed on the way to this file. */
  target?: string;
  /** Why the entry cannot be read as a file (a dangling link, a FIFO, ...): an error only if the
   * file is one the model needs or carries, so a broken link the selection skips does no harm. */
  problem?: string;
}

/** Folders never part of a model. */
const SKIP_DIRS = new Set(['.git', '.cache', '.huggingface']);

export async function listModelFolder(root: string): Promise<FolderFile[]> {
  const out: FolderFile[] = [];
  await walk(root, '', new Set([await realpath(root)]), false, out);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

async function walk(root: string, rel: string, ancestors: Set<string>, linked: boolean, out: FolderFile[]): Promise<void> {
  for (const d of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    const full = path.join(root, r);
    const isLink = d.isSymbolicLink();
    let info: Stats;
    try {
      info = await stat(full); // follows symlinks
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!isLink || (code !== 'ENOENT' && code !== 'ELOOP')) throw e;
      const to = await readlink(full);
      out.push({ rel: r, bytes: 0, problem: code === 'ELOOP' ? `a symlink to ${to}, a chain of links that never ends (a loop)` : `a symlink to ${to}, which does not exist (a dangling link)` });
      continue;
    }
    const via = isLink || linked;
    if (info.isDirectory()) {
      if (SKIP_DIRS.has(d.name)) continue;
      const real = await realpath(full);
      if (ancestors.has(real)) {
        out.push({ rel: r, bytes: 0, problem: `a symlink to ${real}, a folder that contains it (a loop)` });
        continue;
      }
      await walk(root, r, new Set([...ancestors, real]), via, out);
    } else if (info.isFile()) {
      out.push({ rel: r, bytes: info.size, ...(via ? { target: await realpath(full) } : {}) });
    } else {
      out.push({ rel: r, bytes: 0, problem: `${isLink ? `a symlink to ${await realpath(full)}, ` : ''}${fileKind(info)}, not a regular file` });
    }
  }
}

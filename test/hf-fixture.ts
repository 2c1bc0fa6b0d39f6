// A Hugging Face hub cache laid out as huggingface_hub writes it, built from a model folder:
// models--org--name/blobs/<hash> holds each file's bytes, snapshots/<commit>/<path> is a relative
// symlink to its blob, and refs/<branch> holds the commit hash (no newline).
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface FakeSnapshot {
  repoDir: string;
  snapshot: string;
  commit: string;
}

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else out.push(r);
  }
  return out;
}

/** Adds `model`'s files to `cache` as revision `commit` of `repo` ('org/name'), with refs/<branch>
 * pointing at it (none when branch is null). */
export async function addSnapshot(cache: string, repo: string, model: string, options: { commit?: string; branch?: string | null } = {}): Promise<FakeSnapshot> {
  const repoDir = path.join(cache, `models--${repo.split('/').join('--')}`);
  const commit = options.commit ?? createHash('sha1').update(`${repo}:${model}`).digest('hex');
  const snapshot = path.join(repoDir, 'snapshots', commit);
  await mkdir(path.join(repoDir, 'blobs'), { recursive: true });
  for (const rel of await filesUnder(model)) {
    const hash = createHash('sha256').update(await readFile(path.join(model, rel))).digest('hex');
    await copyFile(path.join(model, rel), path.join(repoDir, 'blobs', hash));
    const link = path.join(snapshot, rel);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.relative(path.dirname(link), path.join(repoDir, 'blobs', hash)), link);
  }
  const branch = options.branch === undefined ? 'main' : options.branch;
  if (branch !== null) {
    await mkdir(path.dirname(path.join(repoDir, 'refs', branch)), { recursive: true });
    await writeFile(path.join(repoDir, 'refs', branch), commit);
  }
  return { repoDir, snapshot, commit };
}

// A Hugging Face repo id (`org/name`, `org/name@rev`) as a model argument, resolved OFFLINE to a
// snapshot folder of the local hub cache, laid out as huggingface_hub writes it:
//   <cache>/models--org--name/refs/<branch or tag>   the commit hash it points at
//   <cache>/models--org--name/snapshots/<commit>/    the files (symlinks into ../../blobs)
// Nothing is ever downloaded: a model that is not in the cache is an error saying where we looked.
// An existing local path always wins over a repo id of the same spelling.
import { readdir, readFile, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export interface RepoId {
  org: string;
  name: string;
  /** Branch, tag or commit hash (or a prefix of one); undefined: 'main'. */
  rev?: string;
}

/** One part of a repo id, as the Hub allows it: letters, digits, '-', '_', '.', neither starting
 * nor ending with '-' or '.', and no '--' or '..' (which the cache folder name relies on). */
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const partOk = (s: string) => PART.test(s) && !s.includes('--') && !s.includes('..') && s.length <= 96;
/** A revision stays one path inside refs/ (branch names such as refs/pr/1 have slashes). */
const revOk = (r: string) => /^[A-Za-z0-9._\/-]+$/.test(r) && r.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
/** Git's shortest default abbreviation: shorter prefixes are too easily ambiguous. */
const MIN_PREFIX = 7;

export function parseRepoId(arg: string): RepoId | undefined {
  const at = arg.indexOf('@');
  const id = at < 0 ? arg : arg.slice(0, at);
  const rev = at < 0 ? undefined : arg.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every(partOk) || (rev !== undefined && !revOk(rev))) return undefined;
  return { org: parts[0], name: parts[1], ...(rev !== undefined ? { rev } : {}) };
}

const expandHome = (p: string) => (p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);

/** The hub cache, found as huggingface_hub finds it: HF_HUB_CACHE, then its older name
 * HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub, then $XDG_CACHE_HOME/huggingface/hub, then
 * ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const set = (v: string | undefined) => (v ? expandHome(v) : undefined);
  const home = set(env.HF_HOME) ?? path.join(set(env.XDG_CACHE_HOME) ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return set(env.HF_HUB_CACHE) ?? set(env.HUGGINGFACE_HUB_CACHE) ?? path.join(home, 'hub');
}

const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);
const exists = (p: string) => stat(p).then(() => true, () => false);

/** The names under a folder, recursively ('pr/1'), or [] when there is none. */
async function namesUnder(dir: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await namesUnder(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

/** `arg` itself when it exists (or is no repo id, for the command to report as a path), else the
 * snapshot folder of the repo id in the hub cache. */
export async function resolveModel(arg: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (await exists(arg)) return arg;
  const id = parseRepoId(arg);
  if (!id) return arg;
  const cache = hubCacheDir(env);
  const folder = `models--${id.org}--${id.name}`;
  const repoDir = path.join(cache, folder);
  const offline = 'tensorzip reads the local cache only and downloads nothing (`huggingface-cli download` fetches a model)';
  if (!(await isDir(repoDir)))
    throw new Error(`${arg}: no such file or directory, and not in the Hugging Face cache at ${cache} (no ${folder} there); ${offline}`);
  const rev = id.rev ?? 'main';
  const snapshots = path.join(repoDir, 'snapshots');
  let commit: string | undefined;
  const ref = await readFile(path.join(repoDir, 'refs', rev), 'utf8').catch(() => undefined);
  if (ref !== undefined) commit = ref.trim();
  else if (/^[0-9a-f]+$/.test(rev) && rev.length >= MIN_PREFIX) {
    const hits = (await readdir(snapshots).catch(() => [] as string[])).filter((s) => s.startsWith(rev)).sort();
    if (hits.length > 1) throw new Error(`${arg}: ${rev} begins ${hits.length} snapshots in ${snapshots} (${hits.join(', ')}); give more of the commit hash`);
    commit = hits[0];
  }
  if (commit === undefined) {
    const refs = await namesUnder(path.join(repoDir, 'refs'));
    const snaps = (await readdir(snapshots).catch(() => [] as string[])).sort();
    const has = `it has ${refs.length ? `refs ${refs.join(', ')}` : 'no refs'} and ${snaps.length ? `snapshots ${snaps.map((s) => s.slice(0, MIN_PREFIX)).join(', ')}` : 'no snapshots'}`;
    throw new Error(`${arg}: revision ${rev} is not in the Hugging Face cache at ${cache} (${folder}: ${has}; a commit hash needs at least ${MIN_PREFIX} digits); ${offline}`);
  }
  const snapshot = path.join(snapshots, commit);
  if (!/^[0-9a-f]+$/.test(commit) || !(await isDir(snapshot)))
    throw new Error(`${arg}: refs/${rev} in ${repoDir} names commit ${JSON.stringify(commit)}, whose snapshot is not in the cache (${snapshot}); ${offline}`);
  return snapshot;
}

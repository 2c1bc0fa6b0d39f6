// What the coordinator and the workers of queue mode share: a job is one tensor of one run, and its
// result is a one-tensor part file (lib/pipeline/resume.ts format 'tensorzip-part') on storage both see,
// whose SHA-256 the worker returns with the job. Encoding is deterministic, so a retried job
// writes the same bytes again (under a temp name, then renamed over).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { PART_FORMAT, type PartOptions } from '../parts/part';
import { readLog, type FinishedTensor } from '../pipeline/resume';

export const JOB_NAME = 'tensor';

export interface TensorJob {
  /** The input model, as every worker must see it (an absolute path on shared storage). */
  input: string;
  options: PartOptions;
  /** The run's key (lib/pipeline/compress.ts): a worker seeing other input files or another version refuses. */
  key: string;
  tensor: number;
  name: string;
  bytes: number;
  /** Where the worker writes the result part. */
  output: string;
}

export interface TensorJobResult {
  sha256: string;
  bytes: number;
  seconds: number;
  worker: string;
}

/** Job ids name the run (its key, work directory and output) and the tensor, so that adding the
 * jobs of a run again (a restarted coordinator) does not add them twice. */
export function jobId(runId: string, tensor: number): string {
  return `${runId}-${tensor}`;
}

export function runIdFor(key: string, workDir: string, output: string): string {
  return createHash('sha256').update(key).update('\0').update(workDir).update('\0').update(output).digest('hex').slice(0, 16);
}

/** A run's own folder in the work directory: runs sharing a work directory never touch each
 * other's files, nor a user's. */
export function runDirFor(workDir: string, runId: string): string {
  return path.join(workDir, `tensorzip-run-${runId}`);
}

export function resultPath(runDir: string, tensor: number): string {
  return path.join(runDir, `${String(tensor).padStart(6, '0')}.part`);
}

/** A path a job may name as its result: a result file in a run folder. */
export function isResultPath(p: string): boolean {
  return path.isAbsolute(p) && isResultFile(path.basename(p)) && /^tensorzip-run-[0-9a-f]{16}$/.test(path.basename(path.dirname(p)));
}

/** The name of a result file (resultPath). */
export function isResultFile(name: string): boolean {
  return /^[0-9]{6,}\.part$/.test(name);
}

/** Names the result files and temp files of a run use in its work directory. */
export function isRunFile(name: string): boolean {
  return isResultFile(name) || /^\.[0-9]{6,}\.part\.tmp-/.test(name);
}

export async function fileSha256(p: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The finished tensor in a result file, or undefined when the file is missing, is not a complete
 * result of this run's tensor, or (given `sha256`) does not have that checksum. Its pieces are
 * read from the file when the container is written, so results hold no open file handles. */
export async function readResult(p: string, key: string, tensor: number, sha256?: string): Promise<FinishedTensor | undefined> {
  const file = await open(p, 'r').catch(() => undefined);
  if (!file) return undefined;
  try {
    const { header, finished } = await readLog(file, p, [tensor], 'queue result');
    if (header.format !== PART_FORMAT || header.key !== key || header.tensor !== tensor || finished.length !== 1) return undefined;
    if (sha256 !== undefined && (await fileSha256(p)) !== sha256) return undefined;
    return finished[0];
  } catch {
    return undefined; // not a tensorzip log (a torn or foreign file): the job runs again
  } finally {
    await file.close();
  }
}

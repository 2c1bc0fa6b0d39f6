// A run's plan: the input opened and checked, every tensor's method assigned (all specs checked
// before any work), the run's key, and its output checked. compress, the part files of --shard
// and the queue's jobs all start here, so they agree on what a run is.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FORMAT_VERSION } from '../container/format';
import { formatLzma, parseStage } from '../container/stage';
import { openModelSource, type ModelSource, type SourceTensor } from '../io/model-source';
import { checkOutput } from '../io/output-path';
import { loadImportance } from '../methods/importance';
import { parseSpec } from '../methods/registry';
import { version } from '../version';
import { assign, parsePolicy, type Assignment } from './policy';
import { ResumeLog, type FinishedTensor } from './resume';
import type { CompressOptions } from './types';

/** Every tensor of the input with its assigned method. */
export type Plan = Array<{ t: SourceTensor } & Assignment>;

/** The input opened and checked, every tensor's method assigned (all specs checked before any
 * work), and the run's key: what a resumed run, the parts of a merge and the jobs of a queue must
 * share (lib/pipeline/resume.ts). */
export async function openRun(input: string, output: string, options: CompressOptions) {
  const stage = parseStage(options.coder, options.lzma);
  const base = parseSpec(options.method ?? 'lossless');
  const rules = parsePolicy(options.policy ?? {});
  const source = await openModelSource(input, options);
  try {
    if (!source.tensors.length) throw new Error(`${input}: the model has no tensors`);
    const plan = source.tensors.map((t) => ({ t, ...assign(t.entry, base, rules) }));
    const importance = options.importance ? await loadImportance(options.importance, source.tensors.map((t) => t.entry)) : undefined;
    const nonFinite = options.nonFinite ?? 'lossless';
    const key = await resumeKey(source, { method: base.spec, policy: rules.map((r) => [r.pattern, r.choice.spec]), coder: stage.coder, lzma: formatLzma(stage.lzma), nonFinite, ...selectionOf(options) }, options.importance);
    return { source, plan, stage, base, rules, importance, nonFinite, key };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/**
 * The output of a container or part checked before any work (lib/io/output-path.ts): not an
 * input file (the model's files, the importance file, the parts of a merge), not existing unless
 * `force` (a queue job's result is its own to replace), a writable directory, and the space it
 * may need noted: the pieces before LZMA, twice for a container (its resume sidecar holds every
 * piece until the container is written).
 */
export async function checkRunOutput(
  output: string, source: ModelSource, plan: Plan, options: CompressOptions, what: { part?: 'shard' | 'job'; parts?: FinishedTensor[] } = {},
): Promise<void> {
  const { part, parts } = what;
  const files = [...source.shards.map((s) => s.relPath), ...source.extraFiles].map((f) => path.join(source.root, f));
  const inputs = [...(source.kind === 'directory' ? [source.root] : []), ...files, ...(options.importance ? [options.importance] : []), ...new Set(parts?.map((f) => f.from))];
  let pieces = 0;
  for (const { t, choice } of plan) pieces += Math.ceil((choice.method.nominalBits(choice.params, t.entry.dtype, t.entry.numel) * t.entry.numel) / 8);
  const sidecar = ResumeLog.pathFor(output);
  const resumed = options.resume ? await stat(sidecar).then((s) => s.size, () => 0) : 0;
  const container = part ? 0 : pieces + source.extraBytes;
  const checked = await checkOutput(output, {
    kind: 'file',
    inputs,
    force: options.force || part === 'job',
    beside: part ? [] : [sidecar],
    space: parts ? { bytes: container, exact: false, what: 'the container' } : { bytes: pieces + container - resumed, exact: false, what: part ? 'the part file' : 'the container and its resume sidecar' },
  });
  for (const line of checked.notes) options.onNote?.(line);
}

/** What a resumed run must share with the interrupted one: tool, options and input files. */
async function resumeKey(source: ModelSource, options: object, importance?: string): Promise<string> {
  const files = [...source.shards.map((s) => path.join(source.root, s.relPath)), ...source.extraFiles.map((f) => path.join(source.root, f))];
  if (importance) files.push(path.resolve(importance));
  const stats = await Promise.all(files.map(async (f) => {
    const s = await stat(f);
    return [path.relative(source.root, f), s.size, s.mtimeMs];
  }));
  return JSON.stringify({ tool: version, format: FORMAT_VERSION, options, kind: source.kind, files: stats });
}

/** The file globs given, for the key, the parts and the container's recorded options (absent
 * when none: containers of runs without them stay byte for byte as they were). */
export function selectionOf(options: CompressOptions): Pick<CompressOptions, 'exclude' | 'include'> {
  return { ...(options.exclude?.length ? { exclude: options.exclude } : {}), ...(options.include?.length ? { include: options.include } : {}) };
}

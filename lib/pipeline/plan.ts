// A run's plan: the input opened and checked, every tensor's method assigned (all specs checked
// before any work), the run's key, and its output checked. compress, the part files of --shard
// and the queue's jobs all start here, so they agree on what a run is.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FORMAT_VERSION } from '../container/format';
import { formatLzma, parseStage } from '../container/stage';
import { openModelSource, type ModelSource, type SourceTensor } from '../io/model-source';
import { DTYPE_SIZES } from '../io/dtypes';
import { checkOutput } from '../io/output-path';
import { chunkElements } from '../methods/method';
import { loadImportance, type Importance } from '../methods/importance';
import { parseSpec } from '../methods/registry';
import { version } from '../version';
import { SpecError } from '../core/errors';
import { FILE_CHUNK } from './files';
import { assign, expandPreset, parsePolicy, type Assignment } from './policy';
import { ResumeLog, type FinishedTensor } from './resume';
import type { CompressOptions } from './types';

/** Every tensor of the input with its assigned method. */
export type Plan = Array<{ t: SourceTensor } & Assignment>;

/** The input opened and checked, every tensor's method assigned (all specs checked before any
 * work), and the run's key: what a resumed run, the parts of a merge and the jobs of a queue must
 * share (lib/pipeline/resume.ts). */
export async function openRun(input: string, output: string, options: CompressOptions) {
  const stage = parseStage(options.coder, options.lzma);
  const preset = expandPreset(options.method ?? 'lossless', options.policy ?? {});
  const base = parseSpec(preset.method);
  const rules = parsePolicy(preset.policy);
  const source = await openModelSource(input, options);
  try {
    if (!source.tensors.length) throw new Error(`${input}: the model has no tensors`);
    const fallback = preset.rows && { ...preset.rows, choice: parseSpec(preset.rows.otherwise) };
    const plan = source.tensors.map((t) => {
      const cols = t.entry.shape.length === 2 ? t.entry.shape[1] : 0;
      if (!fallback || !cols || cols % fallback.multiple === 0) return { t, ...assign(t.entry, base, rules) };
      const a = assign(t.entry, fallback.choice, rules);
      const note = a.choice.spec === fallback.choice.spec ? `rows of ${cols} weights do not split into ${options.method}'s blocks of ${fallback.multiple}: ${a.choice.spec}` : a.note;
      return { t, ...a, ...(note ? { note } : {}) };
    });
    const importance = options.importance ? await loadImportance(options.importance, source.tensors.map((t) => t.entry)) : undefined;
    if (importance) checkImportanceCovers(options.importance!, importance, plan, options.onNote);
    const nonFinite = options.nonFinite ?? 'lossless';
    const key = await resumeKey(source, { method: base.spec, policy: rules.map((r) => [r.pattern, r.choice.spec]), coder: stage.coder, lzma: formatLzma(stage.lzma), nonFinite, ...selectionOf(options) }, options.importance);
    return { source, plan, stage, base, rules, importance, nonFinite, key };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** --importance must serve the run: some tensor's method must use it (rtn, ternary :opt, vptq),
 * and every weight matrix whose method uses it needs its vector (embeddings excepted: no input
 * activations exist for them), so a file made from another model (1 layer of 24) is refused
 * rather than half applied. Methods that ignore it are named in a note. */
function checkImportanceCovers(file: string, importance: Importance, plan: Plan, onNote?: (line: string) => void): void {
  const users = plan.filter(({ t, choice }) => choice.method.usesImportance?.(choice.params) && t.entry.shape.length >= 2);
  const ignoring = [...new Set(plan.filter(({ choice }) => choice.method.lossy && !choice.method.usesImportance?.(choice.params)).map(({ choice }) => choice.spec))];
  if (!users.length)
    throw new SpecError(`--importance ${file}: no tensor of this run uses it (rtn, ternary :opt and vptq do${ignoring.length ? `; ${ignoring.join(', ')} do${ignoring.length === 1 ? 'es' : ''} not` : ''})`);
  const missing = users.filter(({ t }) => !importance.has(t.entry.name) && !/embed/i.test(t.entry.name)).map(({ t }) => t.entry.name);
  if (missing.length)
    throw new Error(
      `${file}: no importance vector for ${missing.length} of the ${users.length} tensors whose method uses it (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}): ` +
        'was it made from another model? (tensorzip imatrix writes one per linear layer)',
    );
  if (ignoring.length) onNote?.(`--importance is not used by ${ignoring.join(', ')} (rtn, ternary :opt and vptq use it)`);
}

/**
 * The room a container's header gets before its data (lib/container/writer.ts): an estimate from
 * the plan, generous per piece and per tensor (names appear in the header, in the metadata's
 * records and, escaped, inside its JSON string), so that the header is written in place rather
 * than the data copied after it; it costs about 0.02 % of a 1.5B-class model's container. A small
 * model, whose room would be over 1 % of its bytes, gets none: its data is copied after the
 * header, which costs little there and keeps small containers free of padding. A function of the
 * plan alone: compress, merge and a queue coordinator reserve the same room and write the same
 * bytes.
 */
export function headerReserve(source: ModelSource, plan: Plan, options: CompressOptions): number {
  const name = (s: string) => Buffer.byteLength(s);
  let bytes = 4096 + 2 * name(JSON.stringify([options.policy ?? {}, options.exclude ?? [], options.include ?? []]));
  for (const { t, choice } of plan) {
    const { method } = choice;
    const { dtype, shape, numel } = t.entry;
    let p = choice.params;
    try {
      p = method.resolve ? method.resolve(p, shape) : p;
    } catch {
      // unsupported shapes fall back to lossless; the lossless count below covers them
    }
    // The planned method, or lossless if the tensor turns out to need it (its streams are the planes).
    const chunks = Math.max(Math.ceil(numel / chunkElements(method.chunkUnit(p))), Math.ceil(numel / chunkElements(1)));
    const streams = Math.max(method.streamNames(p, dtype).length, DTYPE_SIZES[dtype]);
    const pieces = chunks * streams + (method.tensorStreamNames?.(p, dtype).length ?? 0);
    // A piece: its header entry and its record (escaped inside the metadata string); a tensor: its
    // record, and its name in its shard's list.
    bytes += 768 + 4 * name(t.entry.name) + pieces * (name(t.entry.name) + 200);
  }
  for (const f of [...source.shards.map((s) => s.relPath), ...source.extraFiles]) bytes += 512 + 4 * name(f);
  bytes += Math.ceil(source.extraBytes / FILE_CHUNK) * 300;
  return bytes * 100 > source.totalBytes ? 0 : 8 * Math.ceil(bytes / 8);
}

/**
 * The output of a container or part checked before any work (lib/io/output-path.ts): not an
 * input file (the model's files, the importance file, the parts of a merge), not existing unless
 * `force` (a queue job's result is its own to replace), a writable directory, and the space it
 * may need noted: the pieces before the entropy stage (written once: the resume sidecar's data file
 * becomes the container).
 */
export async function checkRunOutput(
  output: string, source: ModelSource, plan: Plan, options: CompressOptions, what: { part?: 'shard' | 'job'; parts?: FinishedTensor[] } = {},
): Promise<void> {
  const { part, parts } = what;
  const files = [...source.shards.map((s) => s.relPath), ...source.extraFiles].map((f) => path.join(source.root, f));
  const inputs = [...(source.kind === 'directory' ? [source.root] : []), ...files, ...(options.importance ? [options.importance] : []), ...new Set(parts?.map((f) => f.from))];
  let pieces = 0;
  for (const { t, choice } of plan) pieces += Math.ceil((choice.method.nominalBits(choice.params, t.entry.dtype, t.entry.numel) * t.entry.numel) / 8);
  const sidecar = ResumeLog.pathFor(output), data = ResumeLog.dataPathFor(output);
  // A resumed run's container is partly written already: its data file.
  const resumed = options.resume ? await stat(data).then((s) => s.size, () => 0) : 0;
  const checked = await checkOutput(output, {
    kind: 'file',
    inputs,
    force: options.force || part === 'job',
    beside: part ? [] : [sidecar, data],
    space: part ? { bytes: pieces, exact: false, what: 'the part file' } : { bytes: pieces + source.extraBytes - resumed, exact: false, what: 'the container' },
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

// compress: model -> .tzip. A straight line: open and validate the input, assign a method to
// every tensor (all specs checked before any work), then stream each tensor chunk by chunk
// through method -> LZMA stage -> container writer. Memory is bounded by a few chunks.
import { open, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { backendInfo } from './backend';
import { RunMismatchError } from './errors';
import { FORMAT_VERSION, filePieceName, pieceName, tensorPieceName, type ContainerMeta, type FileRecord, type PieceRecord, type ShardRecord, type TensorRecord } from './container/format';
import { ContainerWriter, recordOnly, type PieceSink } from './container/writer';
import { DeviceUse, resolveDevice, type DeviceSpec } from './device';
import { DTYPE_SIZES, numelOf } from './io/dtypes';
import type { SkippedFile } from './io/carried-files';
import { openModelSource, type ModelSource, type SourceTensor } from './io/model-source';
import { checkOutput } from './io/output-path';
import { tempPathFor } from './io/temp-files';
import { compressPieces, formatLzma, parseLzma, type LzmaSetting, type StoredPiece } from './lzma';
import { toF32 } from './methods/f32';
import { chunkElements, type JobContext, type TensorFacts } from './methods/method';
import { parseSpec, type MethodChoice } from './methods/registry';
import { addSums, emptySums, metricsFromSums, metricsRecord, type ErrorMetrics } from './metrics';
import type { ErrorSums } from './native';
import { native } from './native';
import { assign, parsePolicy, type Assignment } from './policy';
import { loadImportance, type Importance } from './importance';
import { ResumeLog, type FinishedTensor } from './resume';
import { copyFinished, ReuseError } from './reuse';
import { shardTensors, type ShardSpec } from './shard';
import { defaultThreads } from './threads';
import { totals, type Totals } from './totals';
import { version } from './version';

export interface CompressOptions {
  /** Method spec for weight matrices (default 'lossless'). */
  method?: string;
  /** Glob pattern -> method spec, first match wins, before the default policy. */
  policy?: Record<string, string>;
  /** 'auto' (default), 'off', or a preset '0'-'9' (optionally 'e' for extreme). */
  lzma?: string;
  threads?: number;
  /** Where the kernels with a GPU version run: 'auto' (default: the first GPU when CUDA is
   * available), 'cpu', 'cuda' or 'cuda:N'. The container is the same on every device. */
  device?: DeviceSpec;
  /** Tensors with NaN/Inf, or with values the method cannot represent (Method.unrepresentable:
   * e.g. |w| beyond what rtn's f16 scales hold), under a lossy method: store them lossless
   * (default, with a note) or fail, naming the tensor. */
  nonFinite?: 'lossless' | 'error';
  /** A safetensors file of per-input-column importance vectors, one per weight tensor (vptq, rtn, ternary :opt). */
  importance?: string;
  /** Globs of the model folder's files not to carry (lib/io/carried-files.ts); weight files in
   * other formats (*.bin, *.pth, unlisted *.safetensors, ...) are skipped without one. */
  exclude?: string[];
  /** Globs of files to carry even when skipped by default or by `exclude` (include wins). */
  include?: string[];
  /** Reuse the tensors an interrupted run finished (its `<output>.resume` sidecar). */
  resume?: boolean;
  /** Replace an existing output (and an interrupted run's sidecar); the input is never replaced. */
  force?: boolean;
  /** Lines for the user that are not errors (leftovers removed, a possible lack of space). */
  onNote?: (line: string) => void;
  signal?: AbortSignal;
  onProgress?: (p: CompressProgress) => void;
}

export interface CompressProgress {
  tensorIndex: number;
  tensorCount: number;
  tensorName: string;
  /** Original bytes of the current tensor done / total. */
  tensorDone: number;
  tensorTotal: number;
  /** Original bytes of all tensors and files done / total. */
  done: number;
  total: number;
}

export interface TensorReport {
  name: string;
  dtype: string;
  shape: number[];
  method: string;
  note?: string;
  originalBytes: number;
  storedBytes: number;
  bitsPerWeight: number;
  nominalBitsPerWeight: number;
  metrics?: ErrorMetrics;
  seconds: number;
}

export interface CompressReport extends Totals {
  input: string;
  output: string;
  tensors: TensorReport[];
  files: string[];
  /** Bytes of the safetensors files and of the carried files: together originalBytes. */
  weightBytes: number;
  carriedBytes: number;
  /** Files of the folder not in the container (nor in originalBytes), and why. */
  skipped: SkippedFile[];
  /** --include / --exclude globs that matched no file. */
  unmatched: string[];
  /** Input files read through symlinks and where they really are (lib/io/model-files.ts). */
  symlinks: Array<{ path: string; target: string }>;
  seconds: number;
  device: string;
}

/** Stored pieces of carried files are cut at this size. */
const FILE_CHUNK = 1 << 23;

export async function compress(input: string, output: string, options: CompressOptions = {}): Promise<CompressReport> {
  return (await writeContainer(input, output, options)) as CompressReport;
}

/** Encodes only the tensors of `shard` (lib/shard.ts) into a part file at `output`; merge()
 * assembles the parts of every shard into the container compress() would write. */
export async function compressShard(input: string, output: string, options: CompressOptions & { shard: ShardSpec }): Promise<PartReport> {
  if (options.resume) throw new Error('--resume applies to whole containers, not to --shard parts (run the shard again)');
  return (await writeContainer(input, output, { ...options, part: { shard: options.shard } })) as PartReport;
}

/** Encodes one tensor (by index, which must have `name`) into a part file at `output`: a queue job
 * (lib/queue). The run's key must be `key`, or the input or options differ from the coordinator's. */
export async function compressTensor(input: string, output: string, options: CompressOptions & { tensor: number; name: string; key: string }): Promise<PartReport> {
  return (await writeContainer(input, output, { ...options, part: { tensor: options.tensor, name: options.name, key: options.key } })) as PartReport;
}

/** The tensors a part file holds: a shard of `compress --shard`, or one tensor of a queue job. */
export type PartScope = { shard: ShardSpec } | { tensor: number; name: string; key: string };

/** Tensors merge() took from part files, and the key their run had (input files and options). */
export interface PartTensors {
  key: string;
  finished: FinishedTensor[];
}

/** What `compress --shard` wrote. */
export interface PartReport {
  input: string;
  output: string;
  /** Absent for a queue job's part. */
  shard?: ShardSpec;
  /** Tensors of the model / of this shard. */
  tensorCount: number;
  tensors: TensorReport[];
  /** Original bytes of this shard's tensors. */
  originalBytes: number;
  partBytes: number;
  seconds: number;
}

export const PART_FORMAT = 'tensorzip-part';

/** The compress options a part file records, for merge to run the same compress again. */
export type PartOptions = Pick<CompressOptions, 'method' | 'policy' | 'lzma' | 'nonFinite' | 'importance' | 'exclude' | 'include'>;

/** The container; with `parts` (merge), every tensor is copied from part files, none encoded. */
export async function writeContainer(
  input: string, output: string, options: CompressOptions & { part?: PartScope }, parts?: PartTensors,
): Promise<CompressReport | PartReport> {
  const t0 = process.hrtime.bigint();
  const device = new DeviceUse(resolveDevice(options.device));
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), device: device.native, signal: options.signal };
  const { source, plan, lzma, base, rules, importance, nonFinite, key } = await openRun(input, output, options);
  try {
    await checkContainerOutput(output, source, plan, options, parts?.finished);
    const progress = progressTracker(source, options.onProgress);
    if (options.part) {
      // What merge needs to run the same compress again over the parts.
      const recorded = partOptions({ ...options, nonFinite });
      return await writePart(input, output, options.part, recorded, { source, plan, lzma, ctx, key, how: { nonFinite, importance }, progress, t0 });
    }
    if (parts && parts.key !== key) throw new Error(`${input} or the options are not what the parts were made from (input files changed since, other options, or another tensorzip version)`);
    const { log, finished } = parts
      ? { log: undefined, finished: parts.finished }
      : await ResumeLog.open(output, key, options.resume ?? false, options.force ?? false);
    const writer = await ContainerWriter.create(output).catch(async (e) => {
      await log?.close(false); // nothing new was finished: the sidecar stays only if it held tensors
      throw e;
    });
    try {
      const todo = plan.map((_, i) => i).slice(finished.length);
      const { records, reports } = await encodeTensors(source, plan, lzma, ctx, writer, { nonFinite, importance }, progress, log, finished, todo);
      const shards: ShardRecord[] = [];
      for (const s of source.shards) shards.push(await shardRecord(source, s, lzma, ctx, writer));
      const files: FileRecord[] = [];
      for (const f of source.extraFiles) files.push(await storeFile(path.join(source.root, f), f, 'file', lzma, ctx, writer, (d) => progress.file(d)));
      const meta: ContainerMeta = {
        formatVersion: FORMAT_VERSION,
        tool: `tensorzip ${version}`,
        options: {
          method: base.spec,
          lzma: formatLzma(lzma),
          ...(rules.length ? { policy: Object.fromEntries(rules.map((r) => [r.pattern, r.choice.spec])) } : {}),
          ...(options.importance ? { importance: path.basename(options.importance) } : {}),
          ...selectionOf(options),
        },
        source: { kind: source.kind, shards },
        tensors: records,
        files,
        totals: { originalBytes: source.totalBytes, weights: records.reduce((a, r) => a + numelOf(r.shape), 0) },
      };
      const containerBytes = await writer.finish(meta);
      await log?.close(true);
      const info = backendInfo();
      return {
        input,
        output,
        tensors: reports,
        files: source.extraFiles,
        weightBytes: source.totalBytes - source.extraBytes,
        carriedBytes: source.extraBytes,
        skipped: source.skipped,
        unmatched: source.unmatched,
        symlinks: source.symlinks,
        ...totals(reports, source.totalBytes, containerBytes),
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        device: device.describe(info.cpu, ctx.threads),
      };
    } catch (e) {
      await writer.abort();
      // A sidecar that cannot be reused says so itself (remove it); any other failure can resume.
      if (log && (await log.close(false)) && e instanceof Error && !(e instanceof ReuseError)) e.message += ` (finished tensors are kept in ${log.path}: run again with --resume to continue)`;
      throw e;
    }
  } finally {
    await source.close();
  }
}

/** The options a part records, with file paths made absolute for processes elsewhere. */
export function partOptions(options: CompressOptions): PartOptions {
  return { method: options.method, policy: options.policy, lzma: options.lzma, nonFinite: options.nonFinite ?? 'lossless', importance: options.importance && path.resolve(options.importance), ...selectionOf(options) };
}

/** The file globs given, for the key, the parts and the container's recorded options (absent
 * when none: containers of runs without them stay byte for byte as they were). */
function selectionOf(options: CompressOptions): Pick<CompressOptions, 'exclude' | 'include'> {
  return { ...(options.exclude?.length ? { exclude: options.exclude } : {}), ...(options.include?.length ? { include: options.include } : {}) };
}

/** The part's tensors (this shard's, lib/shard.ts, or a queue job's one) encoded into a part file
 * at `output`, written under a temp name and renamed when complete. */
async function writePart(
  input: string,
  output: string,
  scope: PartScope,
  recorded: PartOptions,
  run: {
    source: ModelSource; plan: Array<{ t: SourceTensor } & Assignment>; lzma: LzmaSetting; ctx: JobContext; key: string;
    how: { nonFinite: 'lossless' | 'error'; importance?: Importance }; progress: ReturnType<typeof progressTracker>; t0: bigint;
  },
): Promise<PartReport> {
  const { source, plan } = run;
  let order: number[];
  if ('shard' in scope) {
    order = shardTensors(source.tensors.map((t) => t.entry.byteLength), scope.shard.count)[scope.shard.index];
  } else {
    if (scope.key !== run.key) throw new RunMismatchError(`${input} or the options are not what the coordinator saw (input files changed since, other options, or another tensorzip version)`);
    if (plan[scope.tensor]?.t.entry.name !== scope.name) throw new RunMismatchError(`${input}: tensor ${scope.tensor} is not ${scope.name} (the input changed)`);
    order = [scope.tensor];
  }
  const temp = tempPathFor(output);
  const where = 'shard' in scope ? { shard: scope.shard } : { tensor: scope.tensor };
  const log = await ResumeLog.create(temp, { format: PART_FORMAT, key: run.key, input: path.resolve(input), options: recorded, ...where, tensors: plan.length }, output);
  try {
    const { reports } = await encodeTensors(source, plan, run.lzma, run.ctx, recordOnly, run.how, run.progress, log, [], order);
    await log.commit(output);
    return {
      input,
      output,
      ...where,
      tensorCount: plan.length,
      tensors: reports,
      originalBytes: order.reduce((a, i) => a + plan[i].t.entry.byteLength, 0),
      partBytes: (await stat(output)).size,
      seconds: Number(process.hrtime.bigint() - run.t0) / 1e9,
    };
  } catch (e) {
    await log.close(false);
    await rm(temp, { force: true });
    throw e;
  }
}

/** The input opened and checked, every tensor's method assigned (all specs checked before any
 * work), and the run's key: what a resumed run, the parts of a merge and the jobs of a queue must
 * share (lib/resume.ts). */
async function openRun(input: string, output: string, options: CompressOptions) {
  const lzma = parseLzma(options.lzma ?? 'auto');
  const base = parseSpec(options.method ?? 'lossless');
  const rules = parsePolicy(options.policy ?? {});
  const source = await openModelSource(input, options);
  try {
    if (!source.tensors.length) throw new Error(`${input}: the model has no tensors`);
    const plan = source.tensors.map((t) => ({ t, ...assign(t.entry, base, rules) }));
    const importance = options.importance ? await loadImportance(options.importance, source.tensors.map((t) => t.entry)) : undefined;
    const nonFinite = options.nonFinite ?? 'lossless';
    const key = await resumeKey(source, { method: base.spec, policy: rules.map((r) => [r.pattern, r.choice.spec]), lzma: formatLzma(lzma), nonFinite, ...selectionOf(options) }, options.importance);
    return { source, plan, lzma, base, rules, importance, nonFinite, key };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** What a queue coordinator needs before it hands out jobs: the run's key and the tensors (and
 * the output checked, before any work). */
export async function describeRun(input: string, output: string, options: CompressOptions): Promise<{ key: string; tensors: Array<{ name: string; bytes: number }> }> {
  const { source, key, plan } = await openRun(input, output, options);
  try {
    await checkContainerOutput(output, source, plan, options);
    return { key, tensors: source.tensors.map((t) => ({ name: t.entry.name, bytes: t.entry.byteLength })) };
  } finally {
    await source.close();
  }
}

/**
 * The output of a container or part checked before any work (lib/io/output-path.ts): not an
 * input file (the model's files, the importance file, the parts of a merge), not existing unless
 * `force` (a queue job's result is its own to replace), a writable directory, and the space it
 * may need noted: the pieces before LZMA, twice for a container (its resume sidecar holds every
 * piece until the container is written).
 */
async function checkContainerOutput(
  output: string, source: ModelSource, plan: Array<{ t: SourceTensor } & Assignment>, options: CompressOptions & { part?: PartScope }, parts?: FinishedTensor[],
): Promise<void> {
  const files = [...source.shards.map((s) => s.relPath), ...source.extraFiles].map((f) => path.join(source.root, f));
  const inputs = [...(source.kind === 'directory' ? [source.root] : []), ...files, ...(options.importance ? [options.importance] : []), ...new Set(parts?.map((f) => f.from))];
  let pieces = 0;
  for (const { t, choice } of plan) pieces += Math.ceil((choice.method.nominalBits(choice.params, t.entry.dtype, t.entry.numel) * t.entry.numel) / 8);
  const sidecar = ResumeLog.pathFor(output);
  const resumed = options.resume ? await stat(sidecar).then((s) => s.size, () => 0) : 0;
  const container = options.part ? 0 : pieces + source.extraBytes;
  const checked = await checkOutput(output, {
    kind: 'file',
    inputs,
    force: options.force || (options.part !== undefined && 'tensor' in options.part),
    beside: options.part ? [] : [sidecar],
    space: parts ? { bytes: container, exact: false, what: 'the container' } : { bytes: pieces + container - resumed, exact: false, what: options.part ? 'the part file' : 'the container and its resume sidecar' },
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

/** Raw bytes (in the stored dtype) one batch of chunks may hold per thread. */
const BATCH_BYTES_PER_THREAD = 16 << 20;

interface TensorState {
  choice: MethodChoice;
  facts: TensorFacts;
  note?: string;
  chunk: number;
  chunks: number;
  streams: string[];
  pieces: PieceRecord[][];
  tensorStreams: string[];
  tensorPieces: PieceRecord[];
  sums: ErrorSums;
  started: bigint;
}

/**
 * Encodes every tensor as a sequence of (tensor, chunk) units. Units are taken in order in batches
 * that may span tensors, up to a memory budget: each batch is read and encoded, then all its
 * pieces go through the LZMA stage together (in parallel), then they are written in order. So
 * small tensors are compressed side by side, large ones chunk by chunk, and the output does not
 * depend on the batching.
 */
async function encodeTensors(
  source: ModelSource,
  plan: Array<{ t: SourceTensor } & Assignment>,
  lzma: LzmaSetting,
  ctx: JobContext,
  writer: PieceSink,
  how: { nonFinite: 'lossless' | 'error'; importance?: Importance },
  progress: ReturnType<typeof progressTracker>,
  log: ResumeLog | undefined,
  finished: FinishedTensor[],
  order: number[],
): Promise<{ records: TensorRecord[]; reports: TensorReport[] }> {
  const records: TensorRecord[] = [];
  const reports: TensorReport[] = [];
  const states: TensorState[] = [];
  const budget = Math.max(1, ctx.threads) * BATCH_BYTES_PER_THREAD;
  // Tensors an interrupted run (or the parts of a merge) finished: their pieces are copied, not
  // encoded again.
  for (const f of finished) {
    const i = f.tensor;
    records.push(await copyFinished(f, plan[i], source.shards.length, how.nonFinite, writer));
    const { entry } = plan[i].t;
    reports.push(f.report);
    progress.tensor(i, entry.name, entry.byteLength, entry.byteLength);
  }
  // New pieces go to the log when there is one (the container copies them from there), else to the writer.
  const store = async (tensor: number, name: string, piece: StoredPiece) => {
    if (!log) return writer.addPiece(name, piece);
    const { record, at } = await log.addPiece(tensor, name, piece);
    return writer.addPieceAt(name, record, at);
  };
  let oi = 0; // next position in `order`
  let ci = 0; // next chunk of tensor order[oi]
  while (oi < order.length) {
    // Gather a batch of units: a tensor's tensor streams (chunk 'tensor'), its chunks, or, for an
    // empty tensor, nothing (chunk 'empty').
    const units: Array<{ tensor: number; chunk: number | 'tensor' | 'empty'; streams: Uint8Array[] }> = [];
    let bytes = 0;
    while (oi < order.length && (units.length === 0 || bytes < budget)) {
      const ti = order[oi];
      const { t } = plan[ti];
      let state = states[ti];
      if (!state) {
        state = states[ti] = await startTensor(source, t, plan[ti], how, ctx).catch((e) => Promise.reject(naming(t.entry.name, e)));
        if (state.tensorStreams.length) units.push({ tensor: ti, chunk: 'tensor', streams: state.facts.tensorStreams! });
      }
      if (ci >= state.chunks) {
        if (state.chunks === 0) units.push({ tensor: ti, chunk: 'empty', streams: [] });
        oi++;
        ci = 0;
        continue;
      }
      const size = DTYPE_SIZES[t.entry.dtype];
      const elements = Math.min(state.chunk, t.entry.numel - ci * state.chunk);
      const raw = await source.shards[t.shard].file.read(t.entry, ci * state.chunk * size, elements * size);
      const { method, params } = state.choice;
      const chunkStart = ci * state.chunk * size;
      const onProgress = (done: number, total: number) => progress.tensor(ti, t.entry.name, chunkStart + (raw.byteLength * done) / Math.max(1, total), t.entry.byteLength);
      const enc = await method.encode(params, t.entry.dtype, raw, { ...ctx, onProgress }, { ...state.facts, first: ci * state.chunk }).catch((e) => Promise.reject(naming(t.entry.name, e)));
      if (enc.decoded) addSums(state.sums, native.errorSums(toF32(t.entry.dtype, raw), toF32(t.entry.dtype, enc.decoded)));
      units.push({ tensor: ti, chunk: ci, streams: enc.streams });
      bytes += raw.byteLength;
      ci++;
    }
    // One LZMA job for the whole batch, then write in order.
    const stored = await compressPieces(units.flatMap((u) => u.streams), lzma, ctx.threads, ctx.signal);
    let k = 0;
    for (const u of units) {
      const state = states[u.tensor];
      const { entry } = plan[u.tensor].t;
      if (u.chunk === 'tensor') {
        for (const stream of state.tensorStreams) {
          state.tensorPieces.push(await store(u.tensor, tensorPieceName(entry.name, stream), stored[k++]));
        }
        continue;
      }
      if (u.chunk !== 'empty') {
        state.pieces[u.chunk] = [];
        for (let s = 0; s < state.streams.length; s++) {
          state.pieces[u.chunk][s] = await store(u.tensor, pieceName(entry.name, u.chunk, state.streams[s]), stored[k++]);
        }
        progress.tensor(u.tensor, entry.name, Math.min(entry.byteLength, (u.chunk + 1) * state.chunk * DTYPE_SIZES[entry.dtype]), entry.byteLength);
      }
      if (u.chunk === state.chunks - 1 || state.chunks === 0) {
        const { record, report } = finishTensor(plan[u.tensor].t, state);
        await log?.finishTensor(u.tensor, record, report);
        records.push(record);
        reports.push(report);
      }
    }
  }
  return { records, reports };
}

/** A failure while encoding a tensor, with the tensor's name in front (an abort stays as it is). */
function naming(name: string, e: unknown): unknown {
  if (e instanceof Error && e.name !== 'AbortError' && !e.message.startsWith(`${name}: `)) e.message = `${name}: ${e.message}`;
  return e;
}

/** Decides the tensor's final method (lossy methods never see NaN/Inf, nor values they cannot
 * represent), its chunking, and its tensor streams. */
async function startTensor(
  source: ModelSource,
  t: SourceTensor,
  assigned: Assignment,
  { nonFinite, importance }: { nonFinite: 'lossless' | 'error'; importance?: Importance },
  ctx: JobContext,
): Promise<TensorState> {
  const started = process.hrtime.bigint();
  const { entry } = t;
  const file = source.shards[t.shard].file;
  const size = DTYPE_SIZES[entry.dtype];
  let { choice, note } = assigned;
  const facts: TensorFacts = { shape: entry.shape, absMean: 0, absMax: 0 };
  if (choice.method.lossy) {
    // A pass before encoding: a chunked encode cannot change method half way through, and
    // per-tensor scales need the whole tensor's statistics.
    const stats = await weightStats(file, entry, chunkElements(choice.method.chunkUnit(choice.params)), size);
    const bad = stats.nonFinite;
    facts.absMean = entry.numel ? stats.absSum / entry.numel : 0;
    facts.absMax = stats.absMax;
    const limit = bad ? undefined : choice.method.unrepresentable?.(choice.params, stats.absMax);
    if (bad || limit) {
      const what = bad ? `${bad} NaN/Inf value${bad > 1 ? 's' : ''}` : `largest |w| ${+stats.absMax.toPrecision(8)} is beyond ${choice.spec} (${limit})`;
      if (nonFinite === 'error') throw new Error(`${entry.name}: ${what}; ${choice.spec} cannot encode ${bad ? 'them' : 'it'} (use --nonfinite lossless to store such tensors lossless)`);
      note = `${what}: stored lossless instead of ${choice.spec}`;
      choice = parseSpec('lossless');
    }
  }
  const { method, params } = choice;
  const chunk = chunkElements(method.chunkUnit(params));
  const tensorStreams = method.tensorStreamNames?.(params, entry.dtype) ?? [];
  facts.importance = importance?.get(entry.name);
  if (method.prepare) {
    const read = (first: number, count: number) => file.read(entry, first * size, count * size);
    facts.tensorStreams = await method.prepare(params, entry.dtype, { facts, read, importance: importance?.get(entry.name) }, ctx);
  }
  return {
    choice,
    facts,
    note,
    chunk,
    chunks: Math.ceil(entry.numel / chunk),
    streams: method.streamNames(params, entry.dtype),
    pieces: [],
    tensorStreams,
    tensorPieces: [],
    sums: emptySums(),
    started,
  };
}

function finishTensor(t: SourceTensor, state: TensorState): { record: TensorRecord; report: TensorReport } {
  const { entry } = t;
  const { method, params, spec } = state.choice;
  const storedBytes = [...state.tensorPieces, ...state.pieces.flat()].reduce((a, p) => a + p.bytes, 0);
  const metrics = method.lossy ? metricsFromSums(state.sums) : undefined;
  const record: TensorRecord = {
    name: entry.name,
    shard: t.shard,
    dtype: entry.dtype,
    shape: entry.shape,
    method: spec,
    chunkElements: state.chunk,
    streams: state.streams,
    pieces: state.pieces,
    ...(state.tensorStreams.length ? { tensorStreams: state.tensorStreams, tensorPieces: state.tensorPieces } : {}),
    storedBytes,
    bitsPerWeight: entry.numel ? (8 * storedBytes) / entry.numel : 0,
    nominalBitsPerWeight: method.nominalBits(params, entry.dtype, entry.numel),
    ...(metrics ? { metrics: metricsRecord(metrics) } : {}),
    ...(state.note ? { note: state.note } : {}),
  };
  const report: TensorReport = {
    name: entry.name,
    dtype: entry.dtype,
    shape: entry.shape,
    method: spec,
    note: state.note,
    originalBytes: entry.byteLength,
    storedBytes,
    bitsPerWeight: record.bitsPerWeight,
    nominalBitsPerWeight: record.nominalBitsPerWeight,
    metrics,
    seconds: Number(process.hrtime.bigint() - state.started) / 1e9,
  };
  return { record, report };
}

async function weightStats(file: ModelSource['shards'][number]['file'], entry: SourceTensor['entry'], chunk: number, size: number) {
  const total = { nonFinite: 0, absSum: 0, absMax: 0 };
  for (let e = 0; e < entry.numel; e += chunk) {
    const n = Math.min(chunk, entry.numel - e);
    const s = native.weightStats(toF32(entry.dtype, await file.read(entry, e * size, n * size)));
    total.nonFinite += s.nonFinite;
    total.absSum += s.absSum;
    total.absMax = Math.max(total.absMax, s.absMax);
  }
  return total;
}

/** A shard's record; for a standard layout (tensors tiling the data section) its header too. */
async function shardRecord(source: ModelSource, s: ModelSource['shards'][number], lzma: LzmaSetting, ctx: JobContext, writer: ContainerWriter): Promise<ShardRecord> {
  const h = s.file.header;
  let end = h.dataStart;
  for (const t of h.tensors) end = t.offset === end ? t.offset + t.byteLength : -1;
  const exact = end === h.fileSize;
  return {
    path: s.relPath,
    bytes: s.bytes,
    layout: exact ? 'exact' : 'repacked',
    ...(exact ? { header: await storeFile(path.join(source.root, s.relPath), s.relPath, 'header', lzma, ctx, writer, () => undefined, h.dataStart) } : {}),
    ...(h.metadata ? { metadata: h.metadata } : {}),
    tensors: h.tensors.map((t) => t.name),
  };
}

/** Stores a file (or its first `limit` bytes) in pieces of FILE_CHUNK bytes. */
async function storeFile(
  file: string,
  rel: string,
  kind: 'file' | 'header',
  lzma: LzmaSetting,
  ctx: JobContext,
  writer: ContainerWriter,
  onBytes: (done: number) => void,
  limit?: number,
): Promise<FileRecord> {
  const fh = await open(file, 'r');
  try {
    const bytes = limit ?? (await fh.stat()).size;
    const pieces: PieceRecord[] = [];
    let crc = 0;
    for (let pos = 0, c = 0; pos < bytes; pos += FILE_CHUNK, c++) {
      const buf = Buffer.alloc(Math.min(FILE_CHUNK, bytes - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead !== buf.length) throw new Error(`${file}: changed while being read`);
      crc = zlib.crc32(buf, crc);
      const [stored] = await compressPieces([buf], lzma, ctx.threads, ctx.signal);
      pieces.push(await writer.addPiece(filePieceName(kind, rel, c), stored));
      onBytes(buf.length);
    }
    return { path: rel, bytes, crc32: crc, chunkBytes: FILE_CHUNK, pieces };
  } finally {
    await fh.close();
  }
}

function progressTracker(source: ModelSource, report?: (p: CompressProgress) => void) {
  const tensorCount = source.tensors.length;
  const before: number[] = []; // bytes of the tensors preceding each one
  let tensorsTotal = 0;
  for (const t of source.tensors) before.push(tensorsTotal), (tensorsTotal += t.entry.byteLength);
  let filesDone = 0;
  const total = source.totalBytes;
  return {
    tensor(index: number, name: string, done: number, size: number) {
      report?.({ tensorIndex: index, tensorCount, tensorName: name, tensorDone: done, tensorTotal: size, done: before[index] + done, total });
    },
    file(bytes: number) {
      filesDone += bytes;
      report?.({ tensorIndex: tensorCount, tensorCount, tensorName: '(other files)', tensorDone: 0, tensorTotal: 0, done: tensorsTotal + filesDone, total });
    },
  };
}

// Encoding a run's tensors: per tensor a statistics pass (NaN/Inf, values the method cannot
// represent, per-tensor scales), then chunk by chunk through the method and the entropy stage into
// a piece sink (the container writer, or a part file's log), with the error measured on the
// decoded values.
import { ContainerWriter, type PieceSink } from '../container/writer';
import type { PieceRecord, TensorRecord } from '../container/format';
import { pieceName, tensorPieceName } from '../container/format';
import { compressPieces, type PlaneSplit, type StageSetting, type StoredPiece } from '../container/stage';
import { DTYPE_SIZES } from '../io/dtypes';
import { takeBuffer } from '../core/buffer-pool';
import type { ModelSource, SourceTensor } from '../io/model-source';
import type { Importance } from '../methods/importance';
import { chunkElements, planeStreams, type TensorFacts } from '../methods/method';
import { type JobContext } from '../jobs';
import { parseSpec, type MethodChoice } from '../methods/registry';
import type { ErrorSums } from '../native';
import { addSums, emptySums, metricsFromSums, metricsRecord } from './metrics';
import { chunkStats } from '../methods/f32';
import type { Plan } from './plan';
import type { Assignment } from './policy';
import type { FinishedTensor, ResumeLog } from './resume';
import { copyFinished } from './reuse';
import type { CompressProgress, TensorReport } from './types';

/** Raw bytes (in the stored dtype) one batch of chunks may hold per thread. 2 + STAGE_DEPTH
 * batches are in flight (read, coded, written): on the 1.78B-class e2e with three, 16 MiB gave
 * 415 MB peak RSS for rtn:8, 4 MiB 293 MB, in about the same time; with four, rtn:4 peaked at
 * 326 MB (docs/BENCHMARKS.md). */
const BATCH_BYTES_PER_THREAD = 4 << 20;
/** Batches in the entropy stage at once: the serial parts of one batch's job (a piece's
 * histogram before its blocks can be coded) leave threads that the next batch's job uses. */
const STAGE_DEPTH = 2;

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
  /** The tensor's own cost so far: its reads, statistics and encoding, and its share (by bytes)
   * of the entropy-stage batches it was in; not the time it waited behind other tensors. */
  seconds: number;
}

const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/**
 * Encodes every tensor as a sequence of (tensor, chunk) units. Units are taken in order in batches
 * that may span tensors, up to a memory budget: each batch is read and encoded, then all its
 * pieces go through the entropy stage together (in parallel), then they are written in order. So
 * small tensors are compressed side by side, large ones chunk by chunk, and the output does not
 * depend on the batching. Batches overlap: while STAGE_DEPTH are in the entropy stage (and the
 * one before them is written), the next is read and encoded.
 */
export async function encodeTensors(
  source: ModelSource,
  plan: Plan,
  stage: StageSetting,
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
  // New pieces go to the container, noted in the resume sidecar when there is one; a part file's
  // log holds them itself.
  const store = async (tensor: number, name: string, piece: StoredPiece) => {
    if (!log) return writer.addPiece(name, piece);
    if (writer instanceof ContainerWriter) {
      const { record, at, written } = await writer.addPieceWhere(name, piece);
      log.addPieceRecord(tensor, name, record, at.offset, written);
      return record;
    }
    const { record, at } = await log.addPiece(tensor, name, piece);
    return writer.addPieceAt(name, record, at);
  };
  /** split: the streams are to be filled with the byte planes of split.src (Method.planes). */
  type Unit = { tensor: number; chunk: number | 'tensor' | 'empty'; streams: Uint8Array[]; split?: Omit<PlaneSplit, 'first'> };
  // Writes a batch's stored pieces in order, and finishes the tensors whose last unit it holds.
  const storeBatch = async (units: Unit[], stored: StoredPiece[]) => {
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
        log?.finishTensor(u.tensor, record, report);
        records.push(record);
        reports.push(report);
      }
    }
  };
  // The batches in the entropy stage (oldest first), and the writing of the batches before them (in order).
  const coding: Array<{ units: Unit[]; stored: Promise<StoredPiece[]> }> = [];
  let writing: Promise<void> = Promise.resolve();
  const handOn = async () => {
    const batch = coding.shift();
    if (!batch) return;
    const { units, stored } = batch;
    const pieces = await stored;
    await writing; // one batch written at a time: memory stays bounded
    // Once written, the batch's streams, chunks and coded pieces go back to the pool.
    writing = storeBatch(units, pieces).then(() => ctx.buffers?.give(...units.flatMap((u) => [...u.streams, ...(u.split ? [u.split.src] : [])]), ...pieces.map((p) => p.data)));
    writing.catch(() => undefined); // awaited next time or below; not unhandled meanwhile
  };
  let oi = 0; // next position in `order`
  let ci = 0; // next chunk of tensor order[oi]
  try {
    while (oi < order.length) {
      // Gather a batch of units: a tensor's tensor streams (chunk 'tensor'), its chunks, or, for an
      // empty tensor, nothing (chunk 'empty').
      const units: Unit[] = [];
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
        const t0 = process.hrtime.bigint();
        const raw = await source.shards[t.shard].file.read(t.entry, ci * state.chunk * size, elements * size, takeBuffer(ctx.buffers, elements * size));
        const { method, params } = state.choice;
        const planes = method.planes?.(params, t.entry.dtype);
        if (planes) {
          // Streams that are the chunk's byte planes are split in the entropy-stage job.
          const streams = planeStreams(takeBuffer(ctx.buffers, raw.byteLength), planes.width);
          units.push({ tensor: ti, chunk: ci, streams, split: { src: raw, ...planes } });
        } else {
          const chunkStart = ci * state.chunk * size;
          const onProgress = (done: number, total: number) => progress.tensor(ti, t.entry.name, chunkStart + (raw.byteLength * done) / Math.max(1, total), t.entry.byteLength);
          const enc = await method.encode(params, t.entry.dtype, raw, { ...ctx, onProgress }, { ...state.facts, first: ci * state.chunk }).catch((e) => Promise.reject(naming(t.entry.name, e)));
          if (!enc.streams.some((x) => x.buffer === raw.buffer)) ctx.buffers?.give(raw);
          if (enc.sums) addSums(state.sums, enc.sums);
          units.push({ tensor: ti, chunk: ci, streams: enc.streams });
        }
        state.seconds += since(t0);
        bytes += raw.byteLength;
        ci++;
      }
      // One entropy-stage job for the whole batch, each piece modelled as its method says, then write in order.
      const models = units.flatMap((u) => {
        const state = states[u.tensor];
        const { method, params } = state.choice;
        const names = u.chunk === 'tensor' ? state.tensorStreams : state.streams;
        return u.streams.map((_, s) => method.symbolModel?.(params, plan[u.tensor].t.entry.dtype, names[s]));
      });
      const splits: PlaneSplit[] = [];
      let first = 0;
      for (const u of units) {
        if (u.split) splits.push({ ...u.split, first });
        first += u.streams.length;
      }
      while (coding.length >= STAGE_DEPTH) await handOn();
      const s0 = process.hrtime.bigint();
      const stored = compressPieces(units.flatMap((u) => u.streams), stage, 'tensor', ctx.threads, ctx.signal, models, ctx.device, splits, ctx.buffers).then((pieces) => {
        // The batch's stage time, shared among its tensors by the bytes they put in.
        const seconds = since(s0);
        const bytesOf = (u: Unit) => u.streams.reduce((a, x) => a + x.byteLength, 0);
        const total = units.reduce((a, u) => a + bytesOf(u), 0);
        for (const u of units) states[u.tensor].seconds += total ? (seconds * bytesOf(u)) / total : 0;
        return pieces;
      });
      stored.catch(() => undefined); // awaited by handOn; not unhandled meanwhile
      coding.push({ units, stored });
    }
    while (coding.length) await handOn();
  } finally {
    // Whatever happened, nothing is left running: the batches in the stage and the writes settle.
    for (const { stored } of coding) await stored.catch(() => undefined);
    await writing.catch(() => undefined);
  }
  await writing;
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
    const stats = await weightStats(file, entry, chunkElements(choice.method.chunkUnit(choice.params)), size, ctx);
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
    seconds: since(started),
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
    seconds: state.seconds,
  };
  return { record, report };
}

async function weightStats(file: ModelSource['shards'][number]['file'], entry: SourceTensor['entry'], chunk: number, size: number, ctx: JobContext) {
  const total = { nonFinite: 0, absSum: 0, absMax: 0 };
  for (let e = 0; e < entry.numel; e += chunk) {
    const n = Math.min(chunk, entry.numel - e);
    const raw = await file.read(entry, e * size, n * size, takeBuffer(ctx.buffers, n * size));
    const s = await chunkStats(entry.dtype, raw, ctx);
    ctx.buffers?.give(raw);
    total.nonFinite += s.nonFinite;
    total.absSum += s.absSum;
    total.absMax = Math.max(total.absMax, s.absMax);
  }
  return total;
}

export function progressTracker(source: ModelSource, report?: (p: CompressProgress) => void) {
  const tensorCount = source.tensors.length;
  const before: number[] = []; // bytes of the tensors preceding each one
  let tensorsTotal = 0;
  for (const t of source.tensors) before.push(tensorsTotal), (tensorsTotal += t.entry.byteLength);
  let filesDone = 0;
  const total = tensorsTotal + source.extraBytes; // what is reported: tensors, then the carried files (shard headers are not counted)
  return {
    tensor(index: number, name: string, done: number, size: number) {
      report?.({ unit: 'bytes', item: `tensor ${index + 1}/${tensorCount} ${name}`, tensorIndex: index, tensorCount, tensorName: name, tensorDone: done, tensorTotal: size, done: before[index] + done, total });
    },
    file(bytes: number) {
      filesDone += bytes;
      report?.({ unit: 'bytes', item: 'the other files', tensorIndex: tensorCount, tensorCount, tensorName: '(other files)', tensorDone: 0, tensorTotal: 0, done: tensorsTotal + filesDone, total });
    },
  };
}

// Reusing a tensor an earlier run finished (from a resume sidecar, a part of `compress --shard`, or
// a queue result): its record and pieces are copied into the container as they are, so they must
// be what this run would have written for that tensor. Otherwise an edited or damaged file would
// give, with exit 0, a container that decompress then refuses (or reads as another tensor). The
// record gets the container reader's own per-tensor validation, then the checks that need the
// input: name, dtype, shape and shard, and the method the plan assigns.
import { pieceName, tensorPieceName, type PieceRecord } from '../container/format';
import { validateTensor, type Obj } from '../container/reader';
import { pieceIntact, type PieceSink } from '../container/writer';
import type { SourceTensor } from '../io/model-source';
import type { MethodChoice } from '../methods/registry';
import type { FinishedTensor } from './resume';

/** A finished tensor that cannot be reused; the file it came from must be removed or made again. */
export class ReuseError extends Error {
  constructor(f: Pick<FinishedTensor, 'from' | 'remedy'>, what: string) {
    super(`${f.from}: ${what}; it cannot be reused (${f.remedy})`);
    this.name = 'ReuseError';
  }
}

/** Checks finished tensor `f` against its place in the plan, copies its pieces to `writer` and
 * checks them against the record; returns the record. */
export async function copyFinished(
  f: FinishedTensor,
  planned: { t: SourceTensor; choice: MethodChoice } | undefined,
  shardCount: number,
  nonFinite: 'lossless' | 'error',
  writer: PieceSink,
): Promise<FinishedTensor['record']> {
  if (!planned) throw new ReuseError(f, `tensor ${f.tensor}: the model has no such tensor`);
  const { entry, shard } = planned.t;
  const where = `tensor ${JSON.stringify(entry.name)}`;
  const fail = (what: string): never => {
    throw new ReuseError(f, `${where}: ${what}`);
  };
  const o = f.record as unknown as Obj;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) fail('the record is not an object');
  if (o.name !== entry.name) fail(`the record is for ${JSON.stringify(o.name)} (not this model's tensor ${f.tensor})`);
  const record = validateTensor(o, shardCount, new Map(), new Map(), (m) => fail(`the record is invalid (${m})`));
  if (record.dtype !== entry.dtype || record.shape.join() !== entry.shape.join())
    fail(`the record says ${record.dtype} [${record.shape}], the model has ${entry.dtype} [${entry.shape}]`);
  if (record.shard !== shard) fail(`the record says shard ${record.shard}, the model has it in shard ${shard}`);
  // The planned method, or lossless when the tensor holds NaN/Inf (startTensor in compress.ts).
  const fallback = planned.choice.method.lossy && nonFinite === 'lossless' ? 'lossless' : undefined;
  if (record.method !== planned.choice.spec && record.method !== fallback)
    fail(`the record says method ${record.method}, this run assigns ${planned.choice.spec}`);

  const names = [
    ...(record.tensorStreams ?? []).map((s) => tensorPieceName(entry.name, s)),
    ...record.pieces.flatMap((chunk, c) => chunk.map((_, s) => pieceName(entry.name, c, record.streams[s]))),
  ];
  if (f.pieces.map((p) => p.name).join('\n') !== names.join('\n')) fail(`its pieces are not the ${names.length} pieces its record names`);
  // Read now, not only when the container is written: a damaged file fails before any work.
  for (const p of f.pieces) if (!(await pieceIntact(p.record, p.at))) fail(`a stored piece of it (${p.name}) is corrupt`);
  const copied: PieceRecord[] = [];
  for (const p of f.pieces) copied.push(await writer.addPieceAt(p.name, p.record, p.at));
  if (JSON.stringify(copied) !== JSON.stringify([...(record.tensorPieces ?? []), ...record.pieces.flat()])) fail('its pieces do not match their records');
  return record;
}

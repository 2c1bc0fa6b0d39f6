// The progress sidecar of compress, `<output>.resume`: every stored piece and every finished
// tensor's record are appended as they are produced, so that `compress --resume` after an
// interruption reuses the tensors already finished instead of encoding them again. The pieces'
// bytes are in the container's data file, `<output>.resume.data` (lib/container/writer.ts), which
// becomes the container. Both are removed once the container is written, and kept after a
// failure or an interruption that finished at least one tensor.
//
// Layout: one JSON header line { format, version, key } (and for a sidecar { reserve }: the room
// before the data in its data file, `<sidecar>.data`), then entries, each a 4-byte little-endian
// length, then that many bytes of JSON, then the entry's data bytes, if any:
//   { kind: 'piece', tensor, name, codec, rawBytes, bytes, crc32 } + the stored piece, or
//   { kind: 'piece', tensor, name, codec, rawBytes, bytes, crc32, offset } (a sidecar's: its
//     bytes are at `offset` in the data file)
//   { kind: 'tensor', tensor, record, report } (after the tensor's last piece)
// Tensors finish in order, so the finished ones are a prefix; anything after the last 'tensor'
// entry (a tensor cut short, a torn write) is dropped on resume. A finished tensor is reused only
// if its record and pieces fit the input (lib/pipeline/reuse.ts).
//
// The same log, with format 'tensorzip-part' and the shard in its header, is the part file of
// `compress --shard i/n` (lib/parts/shard.ts): it holds the finished tensors of the shard's subset, in
// tensor order, and `merge` copies them into the container as a resumed run would.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { TensorReport } from './types';
import type { PieceRecord, TensorRecord } from '../container/format';
import { pieceRecord, type PieceLocation } from '../container/writer';
import { writeFailure } from '../io/output-path';
import { readExactly } from '../io/safetensors';
import type { StoredPiece } from '../container/stage';

const FORMAT = 'tensorzip-resume';
const VERSION = 2;

export interface FinishedTensor {
  /** Index of the tensor in the model's tensor list. */
  tensor: number;
  /** The file it was read from (for messages). */
  from: string;
  /** What to do when it cannot be reused (lib/pipeline/reuse.ts): remove the file, make it again, ... */
  remedy: string;
  record: TensorRecord;
  report: TensorReport;
  /** Each piece's record (from its log entry) and where its bytes are. */
  pieces: Array<{ name: string; record: PieceRecord; at: PieceLocation }>;
}

type Entry =
  | { kind: 'piece'; tensor: number; name: string; codec: StoredPiece['codec']; rawBytes: number; bytes: number; crc32: number; offset?: number }
  | { kind: 'tensor'; tensor: number; record: TensorRecord; report: TensorReport };

export class ResumeLog {
  /** Appends run one after another, in the order they were asked for. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The first append that failed: no later one runs. */
  private failure: unknown;

  private constructor(
    readonly path: string,
    /** The name to give the user for it (a part file's final name, not its temp name). */
    private readonly shown: string,
    private readonly file: FileHandle,
    private size: number,
    private finishedAny: boolean,
  ) {}

  static pathFor(output: string): string {
    return `${output}.resume`;
  }

  /** The sidecar's data file: the container's data section as far as it was written. */
  static dataPathFor(output: string): string {
    return dataPathOf(ResumeLog.pathFor(output));
  }

  /**
   * Opens the sidecar for a run whose input and options are summed up by `key`, its data file with
   * `reserve` bytes before the data. With `resume`, an existing sidecar for the same key gives back
   * its finished tensors (their pieces at the start of the data, `dataBytes` of it) and is appended
   * to; one for another key is an error. Without `resume`, an existing sidecar (an interrupted
   * run's work) is replaced only with `force`.
   */
  static async open(output: string, key: string, reserve: number, resume: boolean, force = false): Promise<{ log: ResumeLog; finished: FinishedTensor[]; dataBytes?: number }> {
    const p = ResumeLog.pathFor(output);
    const data = ResumeLog.dataPathFor(output);
    const exists = await stat(p).then(() => true, () => false);
    const dataExists = await stat(data).then(() => true, () => false);
    if ((exists || dataExists) && !resume && !force)
      throw new Error(`${exists ? p : data} holds the work of an interrupted run: add --resume to continue it, or -f/--force to start over`);
    if (resume && exists) {
      const file = await open(p, 'r+');
      try {
        const { header, end, finished, dataEnd } = await readLog(file, p);
        if (header.format !== FORMAT) throw new Error(`${p}: not a tensorzip resume file (remove it, or run without --resume)`);
        if (header.key !== key) throw new Error(`${p} was written for a different input or different options; remove it, or run without --resume`);
        if (header.reserve !== reserve || !dataExists)
          throw new Error(`${p} does not go with ${data}; remove both, or run without --resume`);
        await file.truncate(end);
        return { log: new ResumeLog(p, p, file, end, finished.length > 0), finished, dataBytes: dataEnd - reserve };
      } catch (e) {
        await file.close();
        throw e;
      }
    }
    return { log: await ResumeLog.create(p, { format: FORMAT, key, reserve }), finished: [] };
  }

  /** A new log at `p` whose header line holds `header` (format, key, ...) and the version. */
  static async create(p: string, header: { format: string; key: string } & Record<string, unknown>, shown = p): Promise<ResumeLog> {
    const file = await open(p, 'w').catch((e) => {
      throw writeFailure(e, shown);
    });
    const log = new ResumeLog(p, shown, file, 0, false);
    await log.write(Buffer.from(JSON.stringify({ ...header, version: VERSION }) + '\n'));
    return log;
  }

  /** Closes a complete log and gives it its final name (a part file). */
  async commit(target: string): Promise<void> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
    await this.file.close();
    await rename(this.path, target);
  }

  /** Records a piece being stored at `offset` of the data file, once `written` says the file holds
   * it: a log never names bytes a kill could lose. Returns at once (the entry follows the earlier
   * ones; waiting for it here would wait for pieces not yet stored); a failed append is thrown by
   * the next call and by commit(), and ends the log there. */
  addPieceRecord(tensor: number, name: string, record: PieceRecord, offset: number, written: Promise<void>): void {
    this.enqueue({ kind: 'piece', tensor, name, ...record, offset }, undefined, written);
  }

  /** Appends a stored piece; returns its record and where its bytes now are. */
  async addPiece(tensor: number, name: string, piece: StoredPiece): Promise<{ record: PieceRecord; at: PieceLocation }> {
    const record = pieceRecord(piece);
    const offset = await this.enqueue({ kind: 'piece', tensor, name, ...record }, piece.data);
    return { record, at: { path: this.path, offset } };
  }

  /** Records a finished tensor after its pieces' entries; returns at once, as addPieceRecord. */
  finishTensor(tensor: number, record: TensorRecord, report: TensorReport): void {
    this.enqueue({ kind: 'tensor', tensor, record, report }).then(() => (this.finishedAny = true), () => undefined);
  }

  /** After success the sidecar goes; otherwise it stays when it holds a finished tensor. Returns
   * whether it stays. Entries still waiting for their pieces' bytes are written first, or, if
   * those bytes never reach the file, left out. */
  async close(success: boolean): Promise<boolean> {
    await this.queue;
    await this.file.close().catch(() => undefined);
    const keep = !success && this.finishedAny;
    if (!keep) await rm(this.path, { force: true });
    return keep;
  }

  /** Appends `entry` and its data after the entries before it, once `after` resolves; resolves to
   * the offset of the data. */
  private enqueue(entry: Entry, data?: Uint8Array, after?: Promise<void>): Promise<number> {
    if (this.failure !== undefined) throw this.failure;
    const done = this.queue.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      await after;
      return this.append(entry, data);
    });
    this.queue = done.catch((e) => void (this.failure ??= e));
    return done;
  }

  /** Appends an entry and its data; returns the offset of the data. */
  private async append(entry: Entry, data?: Uint8Array): Promise<number> {
    const json = Buffer.from(JSON.stringify(entry));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(json.length);
    await this.write(head);
    await this.write(json);
    const offset = this.size;
    if (data) await this.write(data);
    return offset;
  }

  private async write(part: Uint8Array): Promise<void> {
    try {
      for (let done = 0; done < part.byteLength; ) {
        const { bytesWritten } = await this.file.write(part, done, part.byteLength - done, this.size);
        done += bytesWritten;
        this.size += bytesWritten;
      }
    } catch (e) {
      throw writeFailure(e, this.shown);
    }
  }
}

const dataPathOf = (sidecar: string) => `${sidecar}.data`;

/** A log's header line (and its length): throws unless it is a tensorzip log of this version. */
export async function readLogHeader(file: FileHandle, p: string, what: string): Promise<{ header: LogHeader; length: number }> {
  const { size } = await file.stat();
  const first = Buffer.alloc(Math.min(size, 1 << 16));
  await readExactly(file, first, 0, p);
  const newline = first.indexOf(0x0a);
  let header: Partial<LogHeader> = {};
  try {
    header = newline > 0 ? JSON.parse(first.subarray(0, newline).toString('utf8')) : {};
  } catch {
    // handled below
  }
  if (typeof header.format !== 'string' || !header.format.startsWith('tensorzip-') || header.version !== VERSION || typeof header.key !== 'string')
    throw new Error(`${p}: not a tensorzip ${what}`);
  return { header: header as LogHeader, length: newline };
}

export interface LogHeader {
  format: string;
  version: number;
  key: string;
  [field: string]: unknown;
}

/** A log's header line, where its last complete tensor entry ends, its finished tensors, which
 * must be the tensors of `order` in that order (default 0, 1, 2, ...: a prefix of the model), and
 * for a sidecar where their last piece ends in the data file. Pieces are not read: each is located
 * in `p` or the data file (a container writer copies or adopts it from there). */
export async function readLog(
  file: FileHandle, p: string, order?: number[], what = 'resume file (remove it, or run without --resume)',
): Promise<{ header: LogHeader; end: number; finished: FinishedTensor[]; dataEnd: number }> {
  const { size } = await file.stat();
  const { header, length: newline } = await readLogHeader(file, p, what);
  // A sidecar's pieces are in its data file, which must hold all of each.
  const dataPath = typeof header.reserve === 'number' ? dataPathOf(p) : undefined;
  const dataSize = dataPath ? await stat(dataPath).then((s) => s.size, () => 0) : 0;
  let dataEnd = typeof header.reserve === 'number' ? header.reserve : 0;
  let pendingEnd = dataEnd;

  const remedy = header.format === FORMAT ? 'remove it, or run without --resume' : header.shard ? 'make this part again with compress --shard' : 'remove it and run again';
  const finished: FinishedTensor[] = [];
  let pending: FinishedTensor['pieces'] = [];
  let at = newline + 1;
  let end = at;
  const head = Buffer.alloc(4);
  while (at + 4 <= size) {
    await readExactly(file, head, at, p);
    const length = head.readUInt32LE(0);
    if (at + 4 + length > size) break; // torn write
    const json = Buffer.alloc(length);
    await readExactly(file, json, at + 4, p);
    let entry: Entry;
    try {
      entry = JSON.parse(json.toString('utf8'));
    } catch {
      break;
    }
    const dataAt = at + 4 + length;
    if (entry.kind === 'piece') {
      const e = entry;
      const record = { codec: e.codec, bytes: e.bytes, rawBytes: e.rawBytes, crc32: e.crc32 };
      if (dataPath && typeof e.offset === 'number') {
        if (e.offset + e.bytes > dataSize) break; // its bytes were not all written
        pending.push({ name: e.name, record, at: { path: dataPath, offset: e.offset } });
        pendingEnd = e.offset + e.bytes;
        at = dataAt;
      } else {
        if (dataAt + e.bytes > size) break;
        pending.push({ name: e.name, record, at: { path: p, offset: dataAt } });
        at = dataAt + e.bytes;
      }
    } else if (entry.kind === 'tensor' && entry.tensor === (order ? order[finished.length] : finished.length)) {
      finished.push({ tensor: entry.tensor, from: p, remedy, record: entry.record, report: entry.report, pieces: pending });
      pending = [];
      at = dataAt;
      end = at;
      dataEnd = pendingEnd;
    } else {
      break;
    }
  }
  return { header, end, finished, dataEnd };
}

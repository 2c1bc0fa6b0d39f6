// Writes a container, each piece's bytes once. The container's data section is written as the
// pieces come, into a data file that starts with room for the header (`reserve`, estimated from
// the plan: lib/pipeline/plan.ts); finish() writes the header into that room (the JSON padded with
// spaces, as safetensors allows) and renames the data file into place. A header larger than the
// room (the estimate fell short) is written the slow way: a new file, the data copied after it.
// The data file is the resume sidecar's data when compress keeps one (lib/pipeline/resume.ts): an
// interrupted run's pieces stay in it. Pieces whose bytes lie elsewhere (a part file, a queue
// result) are copied in, checked against their CRC. Nothing ever appears under the final name
// unless the whole container was written. The data goes out through staging buffers with O_DIRECT
// where the file system takes it (lib/io/append-file.ts): a piece is in the file only once
// `written` resolves, which is when the resume log may name it.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { readExactly } from '../io/safetensors';
import { writeFailure } from '../io/output-path';
import { AppendFile } from '../io/append-file';
import { buildHeader, SafetensorsWriter } from '../io/safetensors-writer';
import { tempPathFor } from '../io/temp-files';
import type { StoredPiece } from './stage';
import { FORMAT_NAME, type ContainerMeta, type PieceRecord } from './format';

/** Where a stored piece's bytes already are: a file and the offset of its first byte. */
export interface PieceLocation {
  path: string;
  offset: number;
}

/** Where encoded pieces go: a container, or nowhere (a part file keeps them in its log). */
export interface PieceSink {
  /** Stores one piece as U8 tensor `name` and returns its record. */
  addPiece(name: string, piece: StoredPiece): Promise<PieceRecord>;
  /** Adds the piece of `record` whose bytes are at `at`. */
  addPieceAt(name: string, record: PieceRecord, at: PieceLocation): Promise<PieceRecord>;
}

/** The record of a stored piece. */
export function pieceRecord(piece: StoredPiece): PieceRecord {
  return { codec: piece.codec, bytes: piece.data.byteLength, rawBytes: piece.rawBytes, crc32: piece.crc32 ?? zlib.crc32(piece.data) };
}

/** Records pieces without storing them. */
export const recordOnly: PieceSink = {
  async addPiece(_name, piece) {
    return pieceRecord(piece);
  },
  async addPieceAt(_name, record) {
    return record;
  },
};

const COPY_BYTES = 1 << 22;

/** Reads `bytes` bytes at `offset` through `buf`, handing each part to `sink`; returns their CRC. */
async function readPiece(file: FileHandle, from: string, offset: number, bytes: number, buf: Buffer, sink?: (chunk: Buffer) => Promise<void>): Promise<number> {
  let crc = 0;
  for (let done = 0; done < bytes; ) {
    const n = Math.min(buf.length, bytes - done);
    await readExactly(file, buf.subarray(0, n), offset + done, from);
    crc = zlib.crc32(buf.subarray(0, n), crc);
    await sink?.(buf.subarray(0, n));
    done += n;
  }
  return crc;
}

/** Whether the piece of `record` at `at` is intact (its bytes have the recorded CRC). */
export async function pieceIntact(record: PieceRecord, at: PieceLocation): Promise<boolean> {
  const file = await open(at.path, 'r');
  try {
    return (await readPiece(file, at.path, at.offset, record.bytes, Buffer.allocUnsafe(Math.min(COPY_BYTES, record.bytes)))) === record.crc32;
  } catch {
    return false; // cut short
  } finally {
    await file.close();
  }
}

interface Entry {
  name: string;
  record: PieceRecord;
}

export interface ContainerWriterOptions {
  /** The data file (default: a temp file next to the target). */
  dataPath?: string;
  /** Bytes before the data section: the header's room (8-byte length included). */
  reserve: number;
  /** Continue a data file whose first `dataBytes` bytes of data hold the pieces an interrupted
   * run finished (they are adopted, in order, by addPieceAt); the rest is cut off. */
  resume?: { dataBytes: number };
}

export class ContainerWriter implements PieceSink {
  private readonly entries: Entry[] = [];
  private dataBytes = 0;
  /** Data bytes an interrupted run left, not yet adopted. */
  private resumable = 0;

  private constructor(
    readonly target: string,
    readonly dataPath: string,
    private readonly reserve: number,
    private readonly data: FileHandle,
    /** Appends new pieces after the ones an interrupted run left. */
    private readonly out: AppendFile,
  ) {}

  static async create(target: string, options: ContainerWriterOptions): Promise<ContainerWriter> {
    const dataPath = options.dataPath ?? tempPathFor(target) + '.data';
    const data = await open(dataPath, options.resume ? 'r+' : options.dataPath ? 'w+' : 'wx+').catch((e) => {
      throw writeFailure(e, target);
    });
    try {
      const resumable = options.resume?.dataBytes ?? 0;
      if (options.resume) await data.truncate(options.reserve + resumable);
      const out = await AppendFile.over(data, dataPath, options.reserve + resumable, { direct: true });
      const w = new ContainerWriter(target, dataPath, options.reserve, data, out);
      w.resumable = resumable;
      return w;
    } catch (e) {
      await data.close().catch(() => undefined);
      if (!options.resume) await rm(dataPath, { force: true }); // made here, holding nothing
      throw writeFailure(e, target);
    }
  }

  /** Where the next piece's bytes go. */
  get nextAt(): PieceLocation {
    return { path: this.dataPath, offset: this.reserve + this.dataBytes };
  }

  /** Appends one stored piece as U8 tensor `name`; returns its record. */
  async addPiece(name: string, piece: StoredPiece): Promise<PieceRecord> {
    return (await this.addPieceWhere(name, piece)).record;
  }

  /** addPiece, where its bytes go, and when the file holds them (they may wait in a staging
   * buffer until more follow). */
  async addPieceWhere(name: string, piece: StoredPiece): Promise<{ record: PieceRecord; at: PieceLocation; written: Promise<void> }> {
    const at = this.nextAt;
    await this.append(piece.data);
    const record = pieceRecord(piece);
    this.entries.push({ name, record });
    const written = this.out.whenWritten(at.offset + record.bytes);
    written.catch(() => undefined); // a failed write is reported by the writes themselves
    return { record, at, written };
  }

  /** Adds a piece whose bytes are at `at`: adopted where an interrupted run left it in this data
   * file, else copied in (checked against its CRC). */
  async addPieceAt(name: string, record: PieceRecord, at: PieceLocation): Promise<PieceRecord> {
    if (at.path === this.dataPath && at.offset === this.reserve + this.dataBytes && record.bytes <= this.resumable) {
      this.resumable -= record.bytes;
      this.dataBytes += record.bytes;
    } else {
      const file = await open(at.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(Math.min(COPY_BYTES, Math.max(1, record.bytes)));
        const crc = await readPiece(file, at.path, at.offset, record.bytes, buf, (chunk) => this.append(chunk));
        if (crc !== record.crc32) throw new Error(`${at.path} changed while the container was being written (piece ${name}); run again`);
      } finally {
        await file.close();
      }
    }
    this.entries.push({ name, record });
    return record;
  }

  /** Writes the container and returns its size in bytes. */
  async finish(meta: ContainerMeta): Promise<number> {
    if (this.resumable) throw new Error(`${this.dataPath}: ${this.resumable} bytes of an interrupted run were not reused`);
    const tensors = this.entries.map((e) => ({ name: e.name, dtype: 'U8' as const, shape: [e.record.bytes] }));
    const metadata = { format: FORMAT_NAME, tensorzip: JSON.stringify(meta) };
    const { header } = buildHeader(tensors, metadata, this.reserve);
    // On failure the data file stays for the caller's abort(), which keeps it when it holds an
    // interrupted run's finished tensors.
    await this.complete();
    if (header.length === this.reserve) {
      await this.write(header, 0);
      try {
        await this.data.sync();
        await this.data.close();
        await rename(this.dataPath, this.target);
      } catch (e) {
        throw writeFailure(e, this.target);
      }
    } else {
      // The header outgrew its room: a new file, the data copied after it.
      const out = await SafetensorsWriter.create(this.target, tensors, metadata);
      try {
        const buf = Buffer.allocUnsafe(COPY_BYTES);
        let at = this.reserve;
        for (const e of this.entries) {
          const crc = await readPiece(this.data, this.dataPath, at, e.record.bytes, buf, (chunk) => out.write(chunk)); // a write never spans two pieces
          if (crc !== e.record.crc32) throw new Error(`${this.dataPath} changed while the container was being written (piece ${e.name}); run again`);
          at += e.record.bytes;
        }
        await out.finish();
      } catch (e) {
        await out.abort();
        throw e;
      }
      await this.abort();
    }
    return (await stat(this.target)).size;
  }

  /** Writes the staged bytes: after a failure, so that the pieces they hold can be kept for a
   * resume (the log names them once written). */
  async complete(): Promise<void> {
    try {
      await this.out.complete();
    } catch (e) {
      throw writeFailure(e, this.target);
    }
  }

  /** Removes the data file, or with `keep` only closes it (an interrupted run's, to resume). */
  async abort(keep = false): Promise<void> {
    await this.out.abort();
    await this.data.close().catch(() => undefined);
    if (!keep) await rm(this.dataPath, { force: true });
  }

  private async append(bytes: Uint8Array): Promise<void> {
    // An interrupted run's pieces are adopted before any new one is added (they come first).
    if (this.resumable) throw new Error(`${this.dataPath}: a new piece before the ${this.resumable} bytes of an interrupted run were reused`);
    try {
      await this.out.write(bytes);
    } catch (e) {
      throw writeFailure(e, this.target);
    }
    this.dataBytes += bytes.byteLength;
  }

  private async write(bytes: Uint8Array, position: number): Promise<void> {
    try {
      for (let done = 0; done < bytes.byteLength; ) {
        const { bytesWritten } = await this.data.write(bytes, done, bytes.byteLength - done, position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw writeFailure(e, this.target);
    }
  }
}

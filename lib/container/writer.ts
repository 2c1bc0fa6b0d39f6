// Writes a container. Pieces are not held in memory: each one is either appended to a temp spool
// file or, when its bytes are already on disk (the resume sidecar every compress writes, a part
// file, a queue result), only located there. finish() writes header + pieces to a temp container
// that is renamed into place, checking every piece's CRC as it copies. So a compress needs about
// twice the container's size on disk at its peak (sidecar + container), not three times, and
// nothing ever appears under the final name unless the whole container was written.
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { readExactly } from '../io/safetensors';
import { writeFailure } from '../io/output-path';
import { SafetensorsWriter } from '../io/safetensors-writer';
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
  /** Adds the piece of `record` whose bytes are at `at` (read when the container is written). */
  addPieceAt(name: string, record: PieceRecord, at: PieceLocation): PieceRecord;
}

/** The record of a stored piece. */
export function pieceRecord(piece: StoredPiece): PieceRecord {
  return { codec: piece.codec, bytes: piece.data.byteLength, rawBytes: piece.rawBytes, crc32: zlib.crc32(piece.data) };
}

/** Records pieces without storing them. */
export const recordOnly: PieceSink = {
  async addPiece(_name, piece) {
    return pieceRecord(piece);
  },
  addPieceAt(_name, record) {
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
  /** Absent: in the spool, at `offset`. */
  path?: string;
  offset: number;
}

export class ContainerWriter implements PieceSink {
  private readonly entries: Entry[] = [];
  private spool?: FileHandle;
  private spoolBytes = 0;
  private readonly spoolPath: string;

  private constructor(readonly target: string) {
    this.spoolPath = tempPathFor(target) + '.data';
  }

  static async create(target: string): Promise<ContainerWriter> {
    return new ContainerWriter(target);
  }

  /** Appends one stored piece to the spool as U8 tensor `name`; returns its record. */
  async addPiece(name: string, piece: StoredPiece): Promise<PieceRecord> {
    try {
      this.spool ??= await open(this.spoolPath, 'wx+');
      let done = 0;
      while (done < piece.data.byteLength) {
        const { bytesWritten } = await this.spool.write(piece.data, done, piece.data.byteLength - done, this.spoolBytes + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw writeFailure(e, this.target);
    }
    const record = pieceRecord(piece);
    this.entries.push({ name, record, offset: this.spoolBytes });
    this.spoolBytes += piece.data.byteLength;
    return record;
  }

  addPieceAt(name: string, record: PieceRecord, at: PieceLocation): PieceRecord {
    this.entries.push({ name, record, path: at.path, offset: at.offset });
    return record;
  }

  /** Writes the container and returns its size in bytes. */
  async finish(meta: ContainerMeta): Promise<number> {
    const tensors = this.entries.map((e) => ({ name: e.name, dtype: 'U8' as const, shape: [e.record.bytes] }));
    const files = new Map<string, FileHandle>();
    try {
      const out = await SafetensorsWriter.create(this.target, tensors, { format: FORMAT_NAME, tensorzip: JSON.stringify(meta) });
      try {
        const buf = Buffer.allocUnsafe(COPY_BYTES);
        for (const e of this.entries) {
          const from = e.path ?? this.spoolPath;
          let file = e.path === undefined ? this.spool : files.get(e.path);
          if (!file) files.set(from, (file = await open(from, 'r')));
          const crc = await readPiece(file, from, e.offset, e.record.bytes, buf, (chunk) => out.write(chunk));
          if (crc !== e.record.crc32) throw new Error(`${from} changed while the container was being written (piece ${e.name}); run again`);
        }
        await out.finish();
      } catch (e) {
        await out.abort();
        throw e;
      }
    } finally {
      await Promise.all([...files.values()].map((f) => f.close().catch(() => undefined)));
      await this.abort();
    }
    return (await stat(this.target)).size;
  }

  /** Removes the spool (also after a successful finish). */
  async abort(): Promise<void> {
    await this.spool?.close().catch(() => undefined);
    this.spool = undefined;
    await rm(this.spoolPath, { force: true });
  }
}

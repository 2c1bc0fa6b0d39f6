// Writes a container: pieces are appended to a temp data file as they are produced (bounded
// memory), and finish() writes header + data to a temp container that is renamed into place.
// Nothing ever appears under the final name unless the whole container was written.
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { readExactly } from '../io/safetensors';
import { SafetensorsWriter, tempPathFor } from '../io/safetensors-writer';
import type { StoredPiece } from '../lzma';
import { FORMAT_NAME, type ContainerMeta, type PieceRecord } from './format';

/** Where encoded pieces go: a container, or nowhere (a part file keeps them in its log). */
export interface PieceSink {
  /** Stores one piece as U8 tensor `name` and returns its record. */
  addPiece(name: string, piece: StoredPiece): Promise<PieceRecord>;
}

/** The record of a piece without storing it. */
export const recordOnly: PieceSink = {
  async addPiece(_name, piece) {
    return { codec: piece.codec, bytes: piece.data.byteLength, rawBytes: piece.rawBytes, crc32: zlib.crc32(piece.data) };
  },
};

export class ContainerWriter implements PieceSink {
  private readonly names: string[] = [];
  private readonly sizes: number[] = [];
  private dataBytes = 0;

  private constructor(readonly target: string, private readonly dataPath: string, private readonly data: FileHandle) {}

  static async create(target: string): Promise<ContainerWriter> {
    const dataPath = tempPathFor(target) + '.data';
    return new ContainerWriter(target, dataPath, await open(dataPath, 'wx+'));
  }

  /** Appends one stored piece as U8 tensor `name`; returns its record. */
  async addPiece(name: string, piece: StoredPiece): Promise<PieceRecord> {
    let done = 0;
    while (done < piece.data.byteLength) {
      const { bytesWritten } = await this.data.write(piece.data, done, piece.data.byteLength - done, this.dataBytes + done);
      done += bytesWritten;
    }
    this.names.push(name);
    this.sizes.push(piece.data.byteLength);
    this.dataBytes += piece.data.byteLength;
    return recordOnly.addPiece(name, piece);
  }

  /** Writes the container and returns its size in bytes. */
  async finish(meta: ContainerMeta): Promise<number> {
    const tensors = this.names.map((name, i) => ({ name, dtype: 'U8' as const, shape: [this.sizes[i]] }));
    const out = await SafetensorsWriter.create(this.target, tensors, { format: FORMAT_NAME, tensorzip: JSON.stringify(meta) });
    try {
      let position = 0;
      const buf = Buffer.allocUnsafe(1 << 22);
      for (const size of this.sizes) {
        for (let done = 0; done < size; ) {
          const n = Math.min(buf.length, size - done);
          await readExactly(this.data, buf.subarray(0, n), position, this.dataPath);
          await out.write(buf.subarray(0, n));
          position += n;
          done += n;
        }
      }
      await out.finish();
    } catch (e) {
      await out.abort();
      throw e;
    } finally {
      await this.abort();
    }
    return (await stat(this.target)).size;
  }

  /** Removes the temp data file (also after a successful finish). */
  async abort(): Promise<void> {
    await this.data.close().catch(() => undefined);
    await rm(this.dataPath, { force: true });
  }
}

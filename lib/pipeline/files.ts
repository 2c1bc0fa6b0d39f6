// What a container stores besides tensors: each shard's record (with its original header when
// the tensors tile the data section, so decompress rebuilds the file byte for byte) and the
// model folder's other files, in pieces through the entropy stage (LZMA for text).
import { openRegularFile } from '../io/regular-file';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { filePieceName, type FileRecord, type PieceRecord, type ShardRecord } from '../container/format';
import { compressPieces, type StageSetting } from '../container/stage';
import type { ContainerWriter } from '../container/writer';
import type { ModelSource } from '../io/model-source';
import type { JobContext } from '../jobs';

/** Stored pieces of carried files are cut at this size. */
export const FILE_CHUNK = 1 << 23;

/** A shard's record; for a standard layout (tensors tiling the data section) its header too. */
export async function shardRecord(source: ModelSource, s: ModelSource['shards'][number], stage: StageSetting, ctx: JobContext, writer: ContainerWriter): Promise<ShardRecord> {
  const h = s.file.header;
  let end = h.dataStart;
  for (const t of h.tensors) end = t.offset === end ? t.offset + t.byteLength : -1;
  const exact = end === h.fileSize;
  return {
    path: s.relPath,
    bytes: s.bytes,
    layout: exact ? 'exact' : 'repacked',
    ...(exact ? { header: await storeFile(path.join(source.root, s.relPath), s.relPath, 'header', stage, ctx, writer, () => undefined, h.dataStart) } : {}),
    ...(h.metadata ? { metadata: h.metadata } : {}),
    tensors: h.tensors.map((t) => t.name),
  };
}

/** Stores a file (or its first `limit` bytes) in pieces of FILE_CHUNK bytes. */
export async function storeFile(
  file: string,
  rel: string,
  kind: 'file' | 'header',
  stage: StageSetting,
  ctx: JobContext,
  writer: ContainerWriter,
  onBytes: (done: number) => void,
  limit?: number,
): Promise<FileRecord> {
  const fh = await openRegularFile(file);
  try {
    const bytes = limit ?? (await fh.stat()).size;
    const pieces: PieceRecord[] = [];
    let crc = 0;
    for (let pos = 0, c = 0; pos < bytes; pos += FILE_CHUNK, c++) {
      const buf = Buffer.alloc(Math.min(FILE_CHUNK, bytes - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead !== buf.length) throw new Error(`${file}: changed while being read`);
      crc = zlib.crc32(buf, crc);
      const [stored] = await compressPieces([buf], stage, 'text', ctx.threads, ctx.signal);
      pieces.push(await writer.addPiece(filePieceName(kind, rel, c), stored));
      onBytes(buf.length);
    }
    return { path: rel, bytes, crc32: crc, chunkBytes: FILE_CHUNK, pieces };
  } finally {
    await fh.close();
  }
}

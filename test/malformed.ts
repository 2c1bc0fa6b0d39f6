// Helpers that build and rewrite safetensors files byte by byte, for the bad-input corpus and
// the fuzz loop.
import { generateCheckpoint } from '../lib/generate';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** 8-byte length + header bytes (padded to 8 with spaces) + data. */
export function joinSafetensors(header: Buffer, data: Buffer): Buffer {
  const pad = (8 - (header.length % 8)) % 8;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length + pad));
  return Buffer.concat([len, header, Buffer.alloc(pad, 0x20), data]);
}

/** Rewrites a valid file's header JSON with `edit`, keeping the data section as it is. */
export function splitSafetensors(file: Buffer, edit: (header: any) => void): Buffer {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  return joinSafetensors(Buffer.from(JSON.stringify(header)), file.subarray(8 + n));
}

/** A small valid model file (one generated tiny Llama shard) at `file`. */
export async function validSafetensors(file: string): Promise<string> {
  const dir = file + '.d';
  await generateCheckpoint(dir, { hidden: 64, intermediate: 176, vocab: 256, layers: 1 });
  const { rename } = await import('node:fs/promises');
  await rename(path.join(dir, 'model.safetensors'), file);
  return file;
}

/** A container's header JSON (pieces and __metadata__) and where its data section starts. */
export function containerHeader(c: Buffer): { header: any; meta: any; dataStart: number } {
  const n = Number(c.readBigUInt64LE(0));
  const header = JSON.parse(c.subarray(8, 8 + n).toString('utf8'));
  return { header, meta: JSON.parse(header.__metadata__.tensorzip), dataStart: 8 + n };
}

/** Rewrites a container's metadata (the __metadata__.tensorzip JSON) with `edit`; pieces stay. */
export function editMeta(c: Buffer, edit: (meta: any) => void): Buffer {
  return splitSafetensors(c, (h) => {
    const m = JSON.parse(h.__metadata__.tensorzip);
    edit(m);
    h.__metadata__.tensorzip = JSON.stringify(m);
  });
}

/** Edits the stored bytes of one raw (codec "raw", e.g. made with lzma "off") piece in place and
 * records their new CRC, so that only the decoder can tell. `record` finds the piece's record in
 * the metadata. */
export function editRawPiece(c: Buffer, piece: string, record: (meta: any) => any, edit: (bytes: Buffer) => void): Buffer {
  const { header, dataStart } = containerHeader(c);
  const [begin, end] = header[piece].data_offsets;
  const out = Buffer.from(c);
  const bytes = out.subarray(dataStart + begin, dataStart + end);
  edit(bytes);
  return editMeta(out, (m) => {
    const r = record(m);
    if (r.codec !== 'raw') throw new Error(`${piece} is not a raw piece`);
    r.crc32 = zlib.crc32(bytes);
  });
}

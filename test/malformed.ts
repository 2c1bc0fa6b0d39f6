// Helpers that build and rewrite safetensors files byte by byte, for the bad-input corpus and
// the fuzz loop.
import { mkdir, writeFile } from 'node:fs/promises';
import { generateCheckpoint } from '../lib/tools/generate';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { Rng } from '../lib/core/random';
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

/**
 * A small model directory covering what a container records: two shards listed by an index, one
 * whose tensors tile its data section (stored as 'exact') and one with a gap ('repacked'), lossy
 * and lossless tensors, and carried files, one in a subdirectory.
 */
export async function smallModelDir(dir: string): Promise<string> {
  const rng = new Rng(5);
  await mkdir(path.join(dir, 'tokenizer'), { recursive: true });
  const first = await SafetensorsWriter.create(path.join(dir, 'model-00001-of-00002.safetensors'), [
    { name: 'a.weight', dtype: 'F32', shape: [64, 64] },
    { name: 'a.norm', dtype: 'F32', shape: [64] },
    { name: 'b.ids', dtype: 'I64', shape: [3] },
  ], { format: 'pt' });
  await first.write(new Uint8Array(Float32Array.from({ length: 4096 }, () => rng.normal() * 0.02).buffer));
  await first.write(new Uint8Array(Float32Array.from({ length: 64 }, () => 1 + rng.normal() * 0.05).buffer));
  await first.write(new Uint8Array(BigInt64Array.from([1n, 2n, 3n]).buffer));
  await first.finish();
  const c = Buffer.from(Uint16Array.from({ length: 4096 }, () => 0x3c00 + (rng.u32() % 0x800)).buffer);
  const header = { 'c.weight': { dtype: 'BF16', shape: [32, 128], data_offsets: [0, 8192] }, 'c.bias': { dtype: 'F16', shape: [8], data_offsets: [8200, 8216] } };
  await writeFile(path.join(dir, 'model-00002-of-00002.safetensors'), joinSafetensors(Buffer.from(JSON.stringify(header)), Buffer.concat([c, Buffer.alloc(8), Buffer.alloc(16, 0x3c)])));
  const weightMap = { 'a.weight': 1, 'a.norm': 1, 'b.ids': 1, 'c.weight': 2, 'c.bias': 2 };
  await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: Object.fromEntries(Object.entries(weightMap).map(([k, v]) => [k, `model-0000${v}-of-00002.safetensors`])) }));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 64 }));
  await writeFile(path.join(dir, 'tokenizer', 'vocab.txt'), 'a\nb\nc\n');
  return dir;
}

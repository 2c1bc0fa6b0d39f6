// Helpers that build and rewrite safetensors files byte by byte, for the bad-input corpus and
// the fuzz loop.
import { generateCheckpoint } from '../lib/generate';
import * as path from 'node:path';

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

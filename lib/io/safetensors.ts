// safetensors reader. The whole header is validated before any tensor data is touched; data is
// then read by position through a file descriptor (files over 4 GB; never a whole-file Buffer).
// Every error names the file and, where there is one, the tensor.
import { FormatError, JsonError } from '../core/errors';
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile } from './regular-file';
import { DTYPE_SIZES, isDtype, type Dtype } from './dtypes';
import { parseStrictJson } from './strict-json';

/** The safetensors format's own header limit. */
export const MAX_HEADER_BYTES = 100_000_000;


export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  numel: number;
  /** Absolute file offset of the first data byte. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  /** In data order. */
  tensors: TensorEntry[];
  metadata: Record<string, string> | undefined;
}

/**
 * Validates a header: JSON text bytes, the file size, and where it came from (for messages).
 * Pure, so the fuzz tests can drive it directly.
 */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const fail = (msg: string): never => {
    throw new FormatError(path, msg);
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = parseStrictJson(text);
  } catch (e) {
    return fail(`header is not valid JSON (${e instanceof JsonError ? e.message : String(e)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('header is not a JSON object');
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as object))
        if (typeof v !== 'string') fail(`__metadata__ value of ${JSON.stringify(k)} is not a string`);
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (name.length === 0) fail('a tensor has an empty name');
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${where}: dtype is missing or not a string`);
    if (!isDtype(dtype as string)) fail(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape)) fail(`${where}: shape is missing or not an array`);
    let numel = 1;
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`${where}: shape ${JSON.stringify(shape)} has an invalid dimension`);
      numel *= d as number;
      if (numel > Number.MAX_SAFE_INTEGER) fail(`${where}: shape ${JSON.stringify(shape)} is absurdly large`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0))
      fail(`${where}: data_offsets must be two non-negative integers`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) fail(`${where}: data_offsets [${begin}, ${end}] lie outside the data section (${dataSize} bytes)`);
    const size = DTYPE_SIZES[dtype as Dtype];
    if (numel * size !== end - begin)
      fail(`${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${numel * size} bytes but data_offsets span ${end - begin}`);
    if (begin % size !== 0) fail(`${where}: data offset ${begin} is not aligned to ${dtype}'s ${size} bytes`);
    tensors.push({ name, dtype: dtype as Dtype, shape: (shape as number[]).slice(), numel, offset: dataStart + begin, byteLength: end - begin });
  }
  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let k = 1; k < tensors.length; k++) {
    const prev = tensors[k - 1];
    if (prev.offset + prev.byteLength > tensors[k].offset)
      fail(`tensors ${JSON.stringify(prev.name)} and ${JSON.stringify(tensors[k].name)} overlap`);
  }
  return { path, fileSize, dataStart, tensors, metadata };
}

/** What a file is, from its first 8 bytes, when it is a kind people give instead of safetensors. */
function otherFormat(first: Buffer): string | undefined {
  const convert = 'convert it to safetensors first (with transformers: model.save_pretrained(dir, safe_serialization=True))';
  if (first[0] === 0x50 && first[1] === 0x4b && first[2] === 0x03 && first[3] === 0x04) return `a zip archive, not safetensors (PyTorch saves .bin/.pth checkpoints as zip archives): ${convert}`;
  if (first[0] === 0x80 && first[1] >= 2 && first[1] <= 5) return `a Python pickle, not safetensors (an older PyTorch .bin/.pth checkpoint): ${convert}`;
  if (first.subarray(0, 4).toString('latin1') === 'GGUF') return 'a GGUF file, not safetensors (tensorzip reads safetensors checkpoints)';
  const text = first.toString('latin1');
  if (/^[\t\n\r ]*[{[][\t\n\r -~]*$/.test(text)) return 'a JSON file, not safetensors (give the model folder or its .safetensors files)';
  return undefined;
}

/** An open safetensors file: its validated header and positional reads of its tensors. */
export class SafetensorsFile {
  private constructor(readonly header: SafetensorsHeader, private readonly fh: FileHandle) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const fh = await openRegularFile(path);
    try {
      const { size } = await fh.stat();
      if (size < 8) throw new FormatError(path, `file is too short to be safetensors (${size} bytes)`);
      const lenBuf = Buffer.alloc(8);
      await readExactly(fh, lenBuf, 0, path);
      const headerLength = lenBuf.readBigUInt64LE(0);
      // The length is the file's own first bytes: a file of another kind is named, never echoed.
      const other = otherFormat(lenBuf);
      if (headerLength === 0n) throw new FormatError(path, other ?? 'not a safetensors file (its header length is 0)');
      if (headerLength > BigInt(size - 8)) throw new FormatError(path, other ?? `not a safetensors file (the header length its first 8 bytes give does not fit the file's ${size} bytes)`);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new FormatError(path, other ?? `not a safetensors file, or one whose header is over the ${MAX_HEADER_BYTES}-byte limit`);
      const headerBytes = Buffer.alloc(Number(headerLength));
      await readExactly(fh, headerBytes, 8, path);
      // As the reference implementation: the header is JSON from its first byte.
      if (headerBytes[0] === 0xef && headerBytes[1] === 0xbb && headerBytes[2] === 0xbf) throw new FormatError(path, 'the header starts with a UTF-8 byte order mark, which safetensors does not allow');
      return new SafetensorsFile(parseHeader(path, headerBytes, size), fh);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get path(): string {
    return this.header.path;
  }

  tensor(name: string): TensorEntry | undefined {
    return this.header.tensors.find((t) => t.name === name);
  }

  /** The file's first bytes: length prefix and header, exactly as stored. */
  async headerBytes(): Promise<Buffer> {
    const buf = Buffer.alloc(this.header.dataStart);
    await readExactly(this.fh, buf, 0, this.path);
    return buf;
  }

  /** Reads `length` bytes of a tensor's data starting `start` bytes into it. */
  async read(t: TensorEntry, start = 0, length = t.byteLength - start, into?: Buffer): Promise<Buffer> {
    if (start < 0 || length < 0 || start + length > t.byteLength)
      throw new RangeError(`${this.path}: read of [${start}, ${start + length}) outside tensor ${t.name} (${t.byteLength} bytes)`);
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    await readExactly(this.fh, buf, t.offset + start, this.path);
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Reads buf.length bytes at `position`, failing clearly if the file ends first. */
export async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new FormatError(path, `unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

// GGUF version 3, the file format llama.cpp loads (docs/FORMAT.md, "GGUF export"): a header
// (magic "GGUF", version, tensor count, metadata count), typed key/value metadata, one record
// per tensor (name, dimensions innermost first, ggml type, offset into the data section), then
// the data section, every tensor starting at a multiple of general.alignment (default 32).
// Little-endian throughout. The writer streams tensor data (bounded memory) into a temp file
// that is renamed into place only when complete; the reader checks every length and offset.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { AppendFile } from '../io/append-file';
import { tempPathFor } from '../io/temp-files';
import { FormatError } from '../core/errors';
import { readExactly } from '../io/safetensors';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;

/** The ggml tensor types tensorzip writes or reads, with llama.cpp's ids. */
export const GGML_TYPES = {
  F32: { id: 0, blockElements: 1, blockBytes: 4 },
  F16: { id: 1, blockElements: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockElements: 32, blockBytes: 18 },
  Q5_0: { id: 6, blockElements: 32, blockBytes: 22 },
  Q8_0: { id: 8, blockElements: 32, blockBytes: 34 },
  BF16: { id: 30, blockElements: 1, blockBytes: 2 },
  TQ1_0: { id: 34, blockElements: 256, blockBytes: 54 },
  TQ2_0: { id: 35, blockElements: 256, blockBytes: 66 },
} as const;
export type GgmlType = keyof typeof GGML_TYPES;

const TYPE_BY_ID = new Map<number, GgmlType>(Object.entries(GGML_TYPES).map(([name, t]) => [t.id, name as GgmlType]));

/** Bytes of `elements` values of a type (a multiple of its block). */
export function ggmlBytes(type: GgmlType, elements: number): number {
  const t = GGML_TYPES[type];
  if (elements % t.blockElements) throw new RangeError(`${type} stores blocks of ${t.blockElements} values; ${elements} is not a multiple`);
  return (elements / t.blockElements) * t.blockBytes;
}

/** Metadata value types (gguf_type). */
const VALUE_TYPES = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarKind = Exclude<keyof typeof VALUE_TYPES, 'array'>;
const KIND_BY_ID = new Map<number, keyof typeof VALUE_TYPES>(Object.entries(VALUE_TYPES).map(([k, v]) => [v, k as keyof typeof VALUE_TYPES]));
const SCALAR_BYTES: Record<Exclude<ScalarKind, 'string'>, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

export type GgufScalar = number | bigint | boolean | string;
/** A metadata value: a scalar of a kind, or an array of scalars of one kind. */
export type GgufValue = { kind: ScalarKind; value: GgufScalar } | { kind: 'array'; of: ScalarKind; values: GgufScalar[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ kind: 'u32', value }),
  i32: (value: number): GgufValue => ({ kind: 'i32', value }),
  f32: (value: number): GgufValue => ({ kind: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ kind: 'bool', value }),
  string: (value: string): GgufValue => ({ kind: 'string', value }),
  strings: (values: string[]): GgufValue => ({ kind: 'array', of: 'string', values }),
  i32s: (values: number[]): GgufValue => ({ kind: 'array', of: 'i32', values }),
  f32s: (values: number[]): GgufValue => ({ kind: 'array', of: 'f32', values }),
};

export interface GgufTensorInfo {
  name: string;
  /** Dimensions innermost first (ggml's ne): a PyTorch shape reversed. */
  dims: number[];
  type: GgmlType;
}

export interface GgufTensorSource extends GgufTensorInfo {
  /** The tensor's bytes in order, exactly ggmlBytes(type, elements) of them. */
  data(): AsyncIterable<Uint8Array>;
}

const elementsOf = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const pad = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;

/** Serialises header, metadata and tensor records (offsets assigned in order). */
export function ggufHeader(metadata: Array<[string, GgufValue]>, tensors: GgufTensorInfo[], alignment = DEFAULT_ALIGNMENT): { header: Buffer; offsets: number[]; sizes: number[] } {
  const out = new Writer();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  const kvs = alignment === DEFAULT_ALIGNMENT ? metadata : [...metadata, ['general.alignment', gguf.u32(alignment)] as [string, GgufValue]];
  out.u64(kvs.length);
  const seen = new Set<string>();
  for (const [key, value] of kvs) {
    if (seen.has(key)) throw new Error(`GGUF metadata key ${key} given twice`);
    seen.add(key);
    out.string(key);
    out.value(value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor ${t.name} given twice`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new RangeError(`GGUF tensor ${t.name}: dimensions must be 1 to 4 positive integers, got [${t.dims}]`);
    if (t.dims[0] % GGML_TYPES[t.type].blockElements) throw new RangeError(`GGUF tensor ${t.name}: rows of ${t.dims[0]} values do not split into ${t.type} blocks of ${GGML_TYPES[t.type].blockElements}`);
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GGML_TYPES[t.type].id);
    out.u64(offset);
    offsets.push(offset);
    const size = ggmlBytes(t.type, elementsOf(t.dims));
    sizes.push(size);
    offset = pad(offset + size, alignment);
  }
  const header = out.finish();
  return { header: Buffer.concat([header, Buffer.alloc(pad(header.length, alignment) - header.length)]), offsets, sizes };
}

/** Writes a GGUF file at `target` (which must not exist) through a temp file renamed into place
 * once complete; on any failure (or `signal`) nothing is left behind. Tensor data streams in. */
export async function writeGguf(target: string, metadata: Array<[string, GgufValue]>, tensors: GgufTensorSource[], { alignment = DEFAULT_ALIGNMENT, signal }: { alignment?: number; signal?: AbortSignal } = {}): Promise<number> {
  const { header, sizes } = ggufHeader(metadata, tensors, alignment);
  const temp = tempPathFor(target);
  const file = await AppendFile.create(temp);
  try {
    await file.write(header);
    for (let i = 0; i < tensors.length; i++) {
      let written = 0;
      for await (const chunk of tensors[i].data()) {
        signal?.throwIfAborted();
        written += chunk.byteLength;
        if (written > sizes[i]) throw new Error(`GGUF tensor ${tensors[i].name}: more than its ${sizes[i]} bytes`);
        await file.write(chunk);
      }
      if (written !== sizes[i]) throw new Error(`GGUF tensor ${tensors[i].name}: ${written} bytes written, ${sizes[i]} expected`);
      if (i < tensors.length - 1) await file.write(new Uint8Array(pad(written, alignment) - written));
    }
    const bytes = file.bytes;
    await file.finish();
    await rename(temp, target);
    return bytes;
  } catch (e) {
    await file.abort();
    await rm(temp, { force: true });
    throw e;
  }
}

export interface GgufTensor extends GgufTensorInfo {
  /** Absolute file offset of its data. */
  offset: number;
  bytes: number;
}

/** A GGUF file's header, metadata and tensor records, every offset and size checked against the
 * file; tensor data is read on demand. */
export class GgufFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly version: number,
    readonly metadata: Map<string, GgufValue>,
    readonly tensors: GgufTensor[],
  ) {}

  static async open(path: string): Promise<GgufFile> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const reader = new Reader(fh, path, size);
      if ((await reader.u32()) !== GGUF_MAGIC) throw new FormatError(path, 'not a GGUF file (bad magic)');
      const version = await reader.u32();
      if (version !== 2 && version !== 3) throw new FormatError(path, `GGUF version ${version} is not supported (2 or 3)`);
      const tensorCount = await reader.count('tensor count');
      const kvCount = await reader.count('metadata count');
      const metadata = new Map<string, GgufValue>();
      for (let i = 0; i < kvCount; i++) {
        const key = await reader.string();
        if (metadata.has(key)) throw new FormatError(path, `metadata key ${key} appears twice`);
        metadata.set(key, await reader.value());
      }
      const alignmentValue = metadata.get('general.alignment');
      const alignment = alignmentValue && alignmentValue.kind !== 'array' ? Number(alignmentValue.value) : DEFAULT_ALIGNMENT;
      if (!Number.isInteger(alignment) || alignment < 1 || alignment & (alignment - 1)) throw new FormatError(path, `general.alignment ${alignment} is not a power of two`);
      const records: Array<GgufTensorInfo & { relative: number }> = [];
      for (let i = 0; i < tensorCount; i++) {
        const name = await reader.string();
        const nDims = await reader.u32();
        if (nDims < 1 || nDims > 4) throw new FormatError(path, `tensor ${name}: ${nDims} dimensions (1 to 4 allowed)`);
        const dims: number[] = [];
        for (let d = 0; d < nDims; d++) dims.push(await reader.count(`tensor ${name} dimension`));
        const typeId = await reader.u32();
        const type = TYPE_BY_ID.get(typeId);
        if (!type) throw new FormatError(path, `tensor ${name}: ggml type ${typeId} is not one tensorzip reads`);
        records.push({ name, dims, type, relative: await reader.count(`tensor ${name} offset`) });
      }
      const dataStart = pad(reader.position, alignment);
      const tensors = records.map(({ relative, ...t }) => {
        const elements = elementsOf(t.dims);
        if (t.dims[0] % GGML_TYPES[t.type].blockElements) throw new FormatError(path, `tensor ${t.name}: rows of ${t.dims[0]} values do not split into ${t.type} blocks`);
        const bytes = ggmlBytes(t.type, elements);
        const offset = dataStart + relative;
        if (relative % alignment || offset + bytes > size) throw new FormatError(path, `tensor ${t.name}: data at ${offset} (+${bytes}) is misaligned or past the end of the file (${size} bytes)`);
        return { ...t, offset, bytes };
      });
      return new GgufFile(path, fh, version, metadata, tensors);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  tensor(name: string): GgufTensor | undefined {
    return this.tensors.find((t) => t.name === name);
  }

  async read(t: GgufTensor): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(t.bytes);
    await readExactly(this.fh, buf, t.offset, this.path);
    return buf;
  }

  /** A scalar metadata value, or undefined. */
  scalar(key: string): GgufScalar | undefined {
    const v = this.metadata.get(key);
    return v && v.kind !== 'array' ? v.value : undefined;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Little-endian serialisation of the header. */
class Writer {
  private parts: Buffer[] = [];
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.parts.push(b);
  }
  u64(v: number | bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
  }
  string(s: string) {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.parts.push(bytes);
  }
  scalar(kind: ScalarKind, v: GgufScalar) {
    if (kind === 'string') return this.string(String(v));
    const b = Buffer.alloc(SCALAR_BYTES[kind]);
    switch (kind) {
      case 'u8': b.writeUInt8(Number(v)); break;
      case 'i8': b.writeInt8(Number(v)); break;
      case 'u16': b.writeUInt16LE(Number(v)); break;
      case 'i16': b.writeInt16LE(Number(v)); break;
      case 'u32': b.writeUInt32LE(Number(v)); break;
      case 'i32': b.writeInt32LE(Number(v)); break;
      case 'f32': b.writeFloatLE(Number(v)); break;
      case 'bool': b.writeUInt8(v ? 1 : 0); break;
      case 'u64': b.writeBigUInt64LE(BigInt(v)); break;
      case 'i64': b.writeBigInt64LE(BigInt(v)); break;
      case 'f64': b.writeDoubleLE(Number(v)); break;
    }
    this.parts.push(b);
  }
  value(v: GgufValue) {
    this.u32(VALUE_TYPES[v.kind]);
    if (v.kind !== 'array') return this.scalar(v.kind, v.value);
    this.u32(VALUE_TYPES[v.of]);
    this.u64(v.values.length);
    for (const x of v.values) this.scalar(v.of, x);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Buffered little-endian reads from the file's start, each checked against its size. */
class Reader {
  position = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly size: number,
  ) {}

  private async take(n: number): Promise<Buffer> {
    if (this.position + n > this.size) throw new FormatError(this.path, `truncated GGUF header (needs byte ${this.position + n}, the file has ${this.size})`);
    if (this.position < this.bufStart || this.position + n > this.bufStart + this.buf.length) {
      const length = Math.min(this.size - this.position, Math.max(n, 1 << 20));
      this.buf = Buffer.allocUnsafe(length);
      await readExactly(this.fh, this.buf, this.position, this.path);
      this.bufStart = this.position;
    }
    const at = this.position - this.bufStart;
    this.position += n;
    return this.buf.subarray(at, at + n);
  }
  async u32(): Promise<number> {
    return (await this.take(4)).readUInt32LE();
  }
  /** A u64 that must be a safe integer (counts, sizes, offsets). */
  async count(what: string): Promise<number> {
    const v = (await this.take(8)).readBigUInt64LE();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(this.path, `${what} ${v} is too large`);
    return Number(v);
  }
  async string(): Promise<string> {
    const n = await this.count('string length');
    if (n > this.size) throw new FormatError(this.path, `string length ${n} is past the end of the file`);
    return (await this.take(n)).toString('utf8');
  }
  async scalar(kind: ScalarKind): Promise<GgufScalar> {
    if (kind === 'string') return this.string();
    const b = await this.take(SCALAR_BYTES[kind]);
    switch (kind) {
      case 'u8': return b.readUInt8();
      case 'i8': return b.readInt8();
      case 'u16': return b.readUInt16LE();
      case 'i16': return b.readInt16LE();
      case 'u32': return b.readUInt32LE();
      case 'i32': return b.readInt32LE();
      case 'f32': return b.readFloatLE();
      case 'bool': return b.readUInt8() !== 0;
      case 'u64': return b.readBigUInt64LE();
      case 'i64': return b.readBigInt64LE();
      case 'f64': return b.readDoubleLE();
    }
  }
  async value(): Promise<GgufValue> {
    const kind = KIND_BY_ID.get(await this.u32());
    if (!kind) throw new FormatError(this.path, `unknown metadata value type at byte ${this.position - 4}`);
    if (kind !== 'array') return { kind, value: await this.scalar(kind) };
    const of = KIND_BY_ID.get(await this.u32());
    if (!of || of === 'array') throw new FormatError(this.path, `unsupported array element type at byte ${this.position - 4}`);
    const n = await this.count('array length');
    if (n > this.size) throw new FormatError(this.path, `array length ${n} is past the end of the file`);
    const values: GgufScalar[] = [];
    for (let i = 0; i < n; i++) values.push(await this.scalar(of));
    return { kind, of, values };
  }
}

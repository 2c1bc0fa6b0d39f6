// Opens and validates a container: the safetensors layer first, then every field of the
// tensorzip metadata against the methods' own size rules, before any piece is decoded. Pieces
// are read by position, so one tensor can be decoded without touching the others.
import * as zlib from 'node:zlib';
import { isDtype, numelOf, type Dtype } from '../io/dtypes';
import { SafetensorsFile, type TensorEntry } from '../io/safetensors';
import { FormatError, JsonError } from '../core/errors';
import { parseStrictJson } from '../io/strict-json';
import { decodeMerged, decompressPieces, type StoredPiece } from './stage';
import { chunkElements } from '../methods/method';
import { type JobContext } from '../jobs';
import { takeBuffer, type BufferPool } from '../core/buffer-pool';
import { parseSpec, type MethodChoice } from '../methods/registry';
import {
  FORMAT_NAME,
  FORMAT_VERSION,
  filePieceName,
  pieceName,
  tensorPieceName,
  type ContainerMeta,
  type FileRecord,
  type PieceRecord,
  type ShardRecord,
  type TensorRecord,
} from './format';
import { validateStructure } from './structure';

/** Largest piece a container may declare: pieces are at most one chunk of 8-byte elements. */
const MAX_PIECE_BYTES = 8 * (1 << 22);

export class ContainerReader {
  private readonly byName = new Map<string, TensorRecord>();

  /** methods: each tensor's method, its parameters resolved for the tensor's shape. */
  private constructor(readonly file: SafetensorsFile, readonly meta: ContainerMeta, private readonly methods: Map<string, MethodChoice>) {
    for (const t of meta.tensors) this.byName.set(t.name, t);
  }

  static async open(path: string): Promise<ContainerReader> {
    const file = await SafetensorsFile.open(path);
    try {
      const { meta, methods } = validate(path, file);
      return new ContainerReader(file, meta, methods);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  get path(): string {
    return this.file.path;
  }

  tensor(name: string): TensorRecord | undefined {
    return this.byName.get(name);
  }

  method(t: TensorRecord): MethodChoice {
    return this.methods.get(t.name)!;
  }

  /** Decodes a tensor chunk by chunk (stored dtype bytes), checking every piece's checksum. */
  async *decodeTensor(t: TensorRecord, ctx: JobContext): AsyncGenerator<Uint8Array> {
    for (const decode of this.chunkDecoders(t, ctx)) yield await decode();
  }

  /** A tensor's chunks as decode steps, in order: each reads its pieces, checks their checksums
   * and decodes them to stored dtype bytes. Steps may run ahead of one another (decompress keeps
   * a few in flight); the tensor streams they share are decoded once. */
  chunkDecoders(t: TensorRecord, ctx: JobContext): Array<() => Promise<Uint8Array>> {
    const { method, params } = this.method(t);
    const numel = numelOf(t.shape);
    const names = t.tensorStreams ?? [];
    const owner = `tensor ${t.name}`;
    let tensorStreams: Promise<Uint8Array[]> | undefined;
    const shared = () =>
      (tensorStreams ??= Promise.all((t.tensorPieces ?? []).map((p, s) => this.readPiece(tensorPieceName(t.name, names[s]), p))).then((stored) => this.decodePieces(stored, ctx, owner)));
    return t.pieces.map((_, c) => async () => {
      const elements = Math.min(t.chunkElements, numel - c * t.chunkElements);
      const stored = await this.readChunk(t, c, ctx.buffers);
      const planes = method.planes?.(params, t.dtype);
      if (planes) {
        const dst = takeBuffer(ctx.buffers, planes.width * elements);
        await this.decoded(() => decodeMerged(stored, { ...planes, dst }, ctx), stored, owner);
        ctx.buffers?.give(...stored.map((s) => s.data));
        return dst;
      }
      const streams = await this.decodePieces(stored, ctx, owner);
      const tensorWide = await shared();
      try {
        const out = await method.decode(params, t.dtype, streams, elements, ctx, tensorWide);
        // The chunk's reads and streams go back to the pool (a decoder may return one of them).
        ctx.buffers?.give(...[...stored.map((s) => s.data), ...streams].filter((b) => b.buffer !== out.buffer));
        return out;
      } catch (e) {
        if (e instanceof Error && e.name === 'AbortError') throw e;
        throw new FormatError(this.path, `${owner}: ${e instanceof Error ? e.message : e} (corrupted container)`);
      }
    });
  }

  /** A tensor's chunks as their streams, checked and entropy-decoded but not run through the
   * method's decoder (export copies rtn's and ternary's streams into ggml blocks). */
  chunkStreams(t: TensorRecord, ctx: JobContext): Array<() => Promise<Uint8Array[]>> {
    return t.pieces.map((_, c) => async () => this.decodePieces(await this.readChunk(t, c), ctx, `tensor ${t.name}`));
  }

  /** A carried file's (or shard header's) content chunk by chunk, checked against its CRC. */
  async *readFile(f: FileRecord, ctx: JobContext, kind: 'file' | 'header' = 'file'): AsyncGenerator<Uint8Array> {
    let crc = 0;
    for (let c = 0; c < f.pieces.length; c++) {
      const stored = await this.readPiece(filePieceName(kind, f.path, c), f.pieces[c]);
      const [raw] = await this.decodePieces([stored], ctx, `file ${f.path}`);
      crc = zlib.crc32(raw, crc);
      yield raw;
    }
    if (crc !== f.crc32) throw new FormatError(this.path, `file ${f.path}: content checksum mismatch (corrupted container)`);
  }

  async fileContent(f: FileRecord, ctx: JobContext, kind: 'file' | 'header' = 'file'): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of this.readFile(f, ctx, kind)) parts.push(part);
    return Buffer.concat(parts);
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** The stored pieces of chunk c of a tensor, one per stream. */
  private readChunk(t: TensorRecord, c: number, pool?: BufferPool): Promise<Array<StoredPiece & { name: string }>> {
    return Promise.all(t.pieces[c].map((p, s) => this.readPiece(pieceName(t.name, c, t.streams[s]), p, pool)));
  }

  /** A piece's stored bytes, to be checked against its CRC by decodePieces. */
  private async readPiece(name: string, p: PieceRecord, pool?: BufferPool): Promise<StoredPiece & { name: string }> {
    const entry = this.file.tensor(name) as TensorEntry;
    const data = await this.file.read(entry, 0, entry.byteLength, pool?.take(entry.byteLength));
    return { codec: p.codec, data, rawBytes: p.rawBytes, crc32: p.crc32, name };
  }

  /** Checks the pieces' checksums and decodes them (one job). */
  private decodePieces(stored: Array<StoredPiece & { name: string }>, ctx: JobContext, owner: string): Promise<Uint8Array[]> {
    return this.decoded(() => decompressPieces(stored, ctx), stored, owner);
  }

  /** A decode job's result, its errors in words naming the container and the piece. */
  private async decoded<T>(job: () => Promise<T>, stored: Array<{ name: string }>, owner: string): Promise<T> {
    try {
      return await job();
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw e;
      const message = e instanceof Error ? e.message : String(e);
      const bad = /^piece (\d+): checksum mismatch$/.exec(message);
      throw new FormatError(this.path, `${owner}: ${bad ? `checksum mismatch in piece ${stored[Number(bad[1])].name}` : message} (corrupted container)`);
    }
  }
}

// ---- validation --------------------------------------------------------------------------------

export type Obj = Record<string, unknown>;

function validate(path: string, file: SafetensorsFile): { meta: ContainerMeta; methods: Map<string, MethodChoice> } {
  const fail = (msg: string): never => {
    throw new FormatError(path, msg);
  };
  const md = file.header.metadata;
  if (!md || md.format !== FORMAT_NAME || typeof md.tensorzip !== 'string')
    fail('not a tensorzip container (a safetensors file without tensorzip metadata)');
  let raw: unknown;
  try {
    raw = parseStrictJson(md!.tensorzip);
  } catch (e) {
    fail(`container metadata is not valid JSON (${e instanceof JsonError ? e.message : e})`);
  }
  const m = obj(raw, 'container metadata', fail);
  if (m.formatVersion !== FORMAT_VERSION)
    fail(`unsupported container format version ${JSON.stringify(m.formatVersion)} (this tensorzip reads version ${FORMAT_VERSION})`);
  str(m.tool, 'tool', fail);
  const options = obj(m.options, 'options', fail);
  str(options.method, 'options.method', fail);
  str(options.lzma, 'options.lzma', fail);
  const source = obj(m.source, 'source', fail);
  if (source.kind !== 'file' && source.kind !== 'directory') fail('source.kind must be "file" or "directory"');
  const files = arr(m.files, 'files', fail).map((f, i) => validateFile(obj(f, `files[${i}]`, fail), fail));
  const shards = arr(source.shards, 'source.shards', fail).map((s, i) => {
    const o = obj(s, `source.shards[${i}]`, fail);
    relPath(o.path, `source.shards[${i}].path`, fail);
    int(o.bytes, `source.shards[${i}].bytes`, fail);
    if (o.layout !== 'exact' && o.layout !== 'repacked') fail(`source.shards[${i}].layout must be "exact" or "repacked"`);
    if (o.layout === 'exact') validateFile(obj(o.header, `source.shards[${i}].header`, fail), fail);
    else if (o.header !== undefined) fail(`source.shards[${i}]: only an exact layout stores a header`);
    if (o.metadata !== undefined) for (const v of Object.values(obj(o.metadata, `source.shards[${i}].metadata`, fail))) str(v, 'shard metadata value', fail);
    arr(o.tensors, `source.shards[${i}].tensors`, fail).forEach((n) => str(n, 'shard tensor name', fail));
    return o;
  });
  const specs = new Map<string, MethodChoice>();
  const methods = new Map<string, MethodChoice>();
  const seen = new Set<string>();
  const tensors = arr(m.tensors, 'tensors', fail).map((t, i) => {
    const rec = validateTensor(obj(t, `tensors[${i}]`, fail), shards.length, specs, methods, fail);
    if (seen.has(rec.name)) fail(`tensor ${JSON.stringify(rec.name)} is listed twice`);
    seen.add(rec.name);
    return rec;
  });
  const totals = obj(m.totals, 'totals', fail);
  int(totals.originalBytes, 'totals.originalBytes', fail);
  int(totals.weights, 'totals.weights', fail);
  validateStructure(source.kind as 'file' | 'directory', shards as unknown as ShardRecord[], tensors, files, fail);

  // Every piece the metadata names must be a U8 tensor of exactly its stored size, and no other
  // tensors may exist.
  const expected = new Map<string, number>();
  for (const t of tensors) {
    t.pieces.forEach((chunk, c) => chunk.forEach((p, s) => expected.set(pieceName(t.name, c, t.streams[s]), p.bytes)));
    t.tensorPieces?.forEach((p, s) => expected.set(tensorPieceName(t.name, t.tensorStreams![s]), p.bytes));
  }
  for (const f of files) f.pieces.forEach((p, c) => expected.set(filePieceName('file', f.path, c), p.bytes));
  for (const s of shards as unknown as ShardRecord[])
    s.header?.pieces.forEach((p, c) => expected.set(filePieceName('header', s.header!.path, c), p.bytes));
  for (const e of file.header.tensors) {
    const want = expected.get(e.name);
    if (want === undefined) fail(`unexpected tensor ${JSON.stringify(e.name)} in the container`);
    if (e.dtype !== 'U8' || e.byteLength !== want) fail(`piece ${JSON.stringify(e.name)} is ${e.byteLength} bytes of ${e.dtype}, metadata says ${want} bytes of U8`);
    expected.delete(e.name);
  }
  if (expected.size) fail(`piece ${JSON.stringify(expected.keys().next().value)} is missing (truncated or corrupted container)`);
  return { meta: raw as ContainerMeta, methods };
}

function validatePiece(p: unknown, where: string, rawBytes: number, fail: (m: string) => never): PieceRecord {
  const o = obj(p, where, fail);
  if (o.codec !== 'raw' && o.codec !== 'xz' && o.codec !== 'rans') fail(`${where}: codec must be "raw", "xz" or "rans"`);
  const bytes = int(o.bytes, `${where}.bytes`, fail);
  if (o.rawBytes !== rawBytes) fail(`${where}: rawBytes ${JSON.stringify(o.rawBytes)} does not match the ${rawBytes} bytes its shape implies`);
  if (o.codec === 'raw' && bytes !== rawBytes) fail(`${where}: a raw piece must store exactly its ${rawBytes} bytes`);
  const crc = int(o.crc32, `${where}.crc32`, fail);
  if (crc > 0xffffffff) fail(`${where}: crc32 out of range`);
  return o as unknown as PieceRecord;
}

function validateFile(o: Obj, fail: (m: string) => never): FileRecord {
  const path = relPath(o.path, 'files[].path', fail);
  const where = `file ${JSON.stringify(path)}`;
  const bytes = int(o.bytes, `${where}: bytes`, fail);
  int(o.crc32, `${where}: crc32`, fail);
  const chunk = int(o.chunkBytes, `${where}: chunkBytes`, fail);
  if (chunk < 1 || chunk > MAX_PIECE_BYTES) fail(`${where}: chunkBytes out of range`);
  const pieces = arr(o.pieces, `${where}: pieces`, fail);
  if (pieces.length !== Math.ceil(bytes / chunk)) fail(`${where}: ${pieces.length} pieces do not cover ${bytes} bytes`);
  pieces.forEach((p, c) => validatePiece(p, `${where} piece ${c}`, Math.min(chunk, bytes - c * chunk), fail));
  return o as unknown as FileRecord;
}

/** specs: parsed specs, shared; methods receives the tensor's method resolved for its shape. */
export function validateTensor(o: Obj, shardCount: number, specs: Map<string, MethodChoice>, methods: Map<string, MethodChoice>, fail: (m: string) => never): TensorRecord {
  const name = str(o.name, 'tensors[].name', fail);
  const where = `tensor ${JSON.stringify(name)}`;
  if (int(o.shard, `${where}: shard`, fail) >= shardCount) fail(`${where}: shard index out of range`);
  const dtype = str(o.dtype, `${where}: dtype`, fail);
  if (!isDtype(dtype)) fail(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  let numel = 1;
  for (const d of arr(o.shape, `${where}: shape`, fail)) {
    numel *= int(d, `${where}: shape`, fail);
    if (numel > Number.MAX_SAFE_INTEGER) fail(`${where}: absurd shape`);
  }
  const shape = o.shape as number[];
  const spec = str(o.method, `${where}: method`, fail);
  let choice = specs.get(spec);
  if (!choice) {
    try {
      choice = parseSpec(spec);
    } catch (e) {
      fail(`${where}: ${e instanceof Error ? e.message : e}`);
    }
    if (choice!.spec !== spec) fail(`${where}: method spec ${JSON.stringify(spec)} is not canonical`);
    specs.set(spec, choice!);
  }
  const { method } = choice!;
  const params = method.resolve ? method.resolve(choice!.params, shape) : choice!.params;
  if (method.format(params) !== spec) fail(`${where}: method spec ${JSON.stringify(spec)} is not resolved for its shape`);
  methods.set(name, { method, params, spec });
  const why = method.unsupported(params, dtype as Dtype, shape);
  if (why) fail(`${where}: ${why}`);
  if (o.chunkElements !== chunkElements(method.chunkUnit(params))) fail(`${where}: chunkElements does not match ${spec}`);
  const names = method.streamNames(params, dtype as Dtype);
  const streams = arr(o.streams, `${where}: streams`, fail);
  if (JSON.stringify(streams) !== JSON.stringify(names)) fail(`${where}: streams must be ${JSON.stringify(names)}`);
  const chunkEls = o.chunkElements as number;
  const chunks = arr(o.pieces, `${where}: pieces`, fail);
  if (chunks.length !== Math.ceil(numel / chunkEls)) fail(`${where}: ${chunks.length} chunks do not cover ${numel} elements`);
  chunks.forEach((chunk, c) => {
    const raw = method.rawStreamBytes(params, dtype as Dtype, Math.min(chunkEls, numel - c * chunkEls));
    const list = arr(chunk, `${where}: chunk ${c}`, fail);
    if (list.length !== names.length) fail(`${where}: chunk ${c} has ${list.length} pieces, expected ${names.length}`);
    list.forEach((p, s) => {
      if (raw[s] > MAX_PIECE_BYTES) fail(`${where}: chunk ${c} piece is too large`);
      validatePiece(p, `${where} chunk ${c} ${names[s]}`, raw[s], fail);
    });
  });
  const tensorNames = method.tensorStreamNames?.(params, dtype as Dtype) ?? [];
  if (tensorNames.length || o.tensorStreams !== undefined || o.tensorPieces !== undefined) {
    if (JSON.stringify(o.tensorStreams) !== JSON.stringify(tensorNames)) fail(`${where}: tensorStreams must be ${JSON.stringify(tensorNames)}`);
    const raw = method.rawTensorStreamBytes!(params, dtype as Dtype, shape);
    const list = arr(o.tensorPieces, `${where}: tensorPieces`, fail);
    if (list.length !== tensorNames.length) fail(`${where}: ${list.length} tensor pieces, expected ${tensorNames.length}`);
    list.forEach((p, s) => {
      if (raw[s] > MAX_PIECE_BYTES) fail(`${where}: tensor piece ${tensorNames[s]} is too large`);
      validatePiece(p, `${where} ${tensorNames[s]}`, raw[s], fail);
    });
  }
  for (const k of ['storedBytes', 'bitsPerWeight', 'nominalBitsPerWeight']) if (typeof o[k] !== 'number') fail(`${where}: ${k} is not a number`);
  if (o.metrics !== undefined) obj(o.metrics, `${where}: metrics`, fail);
  return o as unknown as TensorRecord;
}

function obj(v: unknown, what: string, fail: (m: string) => never): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Obj;
}
function arr(v: unknown, what: string, fail: (m: string) => never): unknown[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v as unknown[];
}
function str(v: unknown, what: string, fail: (m: string) => never): string {
  if (typeof v !== 'string') fail(`${what} must be a string`);
  return v as string;
}
function int(v: unknown, what: string, fail: (m: string) => never): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer`);
  return v as number;
}
/** A relative '/'-separated path that cannot escape the output directory. */
function relPath(v: unknown, what: string, fail: (m: string) => never): string {
  const p = str(v, what, fail);
  if (!p || p.startsWith('/') || p.includes('\\') || p.split('/').some((s) => s === '' || s === '.' || s === '..'))
    fail(`${what} ${JSON.stringify(p)} is not a safe relative path`);
  return p;
}

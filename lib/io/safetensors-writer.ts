// Streaming, atomic safetensors writer. The header is computed from the tensor list up front,
// data is then appended tensor by tensor, and the file appears under its final name only when
// finish() renames the completed temp file; abort() (or any failure) removes it.
import { rename, rm } from 'node:fs/promises';
import { AppendFile } from './append-file';
import { DTYPE_SIZES, numelOf, type Dtype } from './dtypes';
import { writeFailure } from './output-path';
import { tempPathFor } from './temp-files';

export interface TensorSpec {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/** The header bytes (length prefix included) for tensors laid out back to back in list order;
 * with `size`, the JSON padded with spaces to make the header exactly that long, when it fits
 * (safetensors allows trailing whitespace; `size` a multiple of 8). */
export function buildHeader(tensors: TensorSpec[], metadata?: Record<string, string>, size?: number): { header: Buffer; sizes: number[] } {
  const json: Record<string, unknown> = {};
  // Names come from files: `json[name] = ...` would make a tensor named "__proto__" the object's
  // prototype (and drop it from the header). defineProperty always makes an own entry.
  const put = (key: string, value: unknown) => Object.defineProperty(json, key, { value, enumerable: true, writable: true, configurable: true });
  if (metadata && Object.keys(metadata).length) put('__metadata__', metadata);
  let offset = 0;
  const sizes: number[] = [];
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name) || t.name === '__metadata__') throw new Error(`duplicate or reserved tensor name ${JSON.stringify(t.name)}`);
    seen.add(t.name);
    const size = DTYPE_SIZES[t.dtype];
    if (offset % size !== 0) throw new Error(`tensor ${t.name}: offset ${offset} is not aligned to ${t.dtype}; order tensors by element size`);
    const bytes = numelOf(t.shape) * size;
    put(t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] });
    sizes.push(bytes);
    offset += bytes;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8); // data starts 8-byte aligned
  if (size !== undefined && 8 + Buffer.byteLength(text) <= size) text += ' '.repeat(size - 8 - Buffer.byteLength(text));
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, sizes };
}

export class SafetensorsWriter {
  private index = 0;
  private written = 0;

  private constructor(
    readonly target: string,
    private readonly temp: string,
    private readonly file: AppendFile,
    private readonly tensors: TensorSpec[],
    private readonly sizes: number[],
  ) {}

  static async create(target: string, tensors: TensorSpec[], metadata?: Record<string, string>): Promise<SafetensorsWriter> {
    const { header, sizes } = buildHeader(tensors, metadata);
    return SafetensorsWriter.createWithHeader(target, header, tensors, sizes);
  }

  /** With a prebuilt header (e.g. an original file's, reproduced byte for byte); the tensors,
   * in data order, must be the ones it describes. `direct`: bypass the page cache where the file
   * system allows it (lib/io/append-file.ts), for outputs nothing reads back soon. */
  static async createWithHeader(target: string, header: Uint8Array, tensors: TensorSpec[], sizes?: number[], { direct = false } = {}): Promise<SafetensorsWriter> {
    sizes ??= tensors.map((t) => numelOf(t.shape) * DTYPE_SIZES[t.dtype]);
    const temp = tempPathFor(target);
    const file = await AppendFile.create(temp, { direct }).catch((e) => {
      throw writeFailure(e, target);
    });
    try {
      await file.write(header);
    } catch (e) {
      await file.abort();
      await rm(temp, { force: true });
      throw writeFailure(e, target);
    }
    return new SafetensorsWriter(target, temp, file, tensors, sizes);
  }

  /** The tensor the next write() belongs to, or undefined when all are complete. */
  get current(): TensorSpec | undefined {
    this.skipComplete();
    return this.tensors[this.index];
  }

  /** Appends bytes to the current tensor; a chunk never spans two tensors. */
  async write(chunk: Uint8Array): Promise<void> {
    this.skipComplete();
    const t = this.tensors[this.index];
    if (!t) throw new Error(`${this.target}: more data than the declared tensors hold`);
    if (this.written + chunk.length > this.sizes[this.index])
      throw new Error(`${this.target}: tensor ${t.name} receives more than its ${this.sizes[this.index]} bytes`);
    try {
      await this.file.write(chunk);
    } catch (e) {
      throw writeFailure(e, this.target);
    }
    this.written += chunk.length;
  }

  async finish(): Promise<void> {
    this.skipComplete();
    if (this.index < this.tensors.length) {
      await this.abort();
      throw new Error(`${this.target}: tensor ${this.tensors[this.index].name} is incomplete`);
    }
    try {
      await this.file.finish();
      await rename(this.temp, this.target);
    } catch (e) {
      await this.abort();
      throw writeFailure(e, this.target);
    }
  }

  async abort(): Promise<void> {
    await this.file.abort();
    await rm(this.temp, { force: true });
  }

  private skipComplete() {
    while (this.index < this.tensors.length && this.written === this.sizes[this.index]) {
      this.index++;
      this.written = 0;
    }
  }
}

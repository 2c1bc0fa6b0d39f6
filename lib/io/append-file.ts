// A file written front to back (safetensors outputs, the container's data). Bytes gather in
// staging buffers, written while the next fills. With `direct` they are 4 KiB-aligned and go out
// with O_DIRECT where the file system takes it: a multi-GB output then costs no kernel copy per
// byte and does not fill the page cache with dirty pages that the final fsync must wait for
// (docs/BENCHMARKS.md, "End to end"). Where O_DIRECT is refused (tmpfs, some network and FUSE
// file systems) the same writes go through the page cache. Staged bytes are not in the file yet:
// `written` and whenWritten() say how far the file holds them (a log that names bytes of the file,
// the resume sidecar's, must wait for that).
import { open, type FileHandle } from 'node:fs/promises';
import { readExactly } from './safetensors';
import { native } from '../native';

const ALIGN = 4096;
/** Staging buffer size: large writes keep the device busy; a multiple of ALIGN. */
const STAGE_BYTES = 8 << 20;
/** Staging buffers: while one fills, the others' writes run (a disk does better with more than
 * one transfer in flight). */
const STAGES = 3;

export class AppendFile {
  private readonly stages: Uint8Array[];
  private current = 0;
  /** Bytes in the current stage. */
  private fill = 0;
  /** File offset of the current stage's first byte. */
  private position: number;
  /** Each stage's write, if one is running. */
  private readonly pending: Array<Promise<void>>;
  /** Writes started and not yet counted in `written`, in file order. */
  private readonly inFlight: Array<{ end: number; done: boolean }> = [];
  private readonly waiters: Array<{ end: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  private failure: unknown;
  private completed = false;
  /** The file holds every byte before this offset (the first ones were there before). */
  private writtenEnd: number;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private direct: boolean,
    /** The offset of the first byte appended. */
    private readonly start: number,
    /** Whether finish() and abort() close fh (a file this class opened). */
    private readonly owned: boolean,
  ) {
    this.stages = Array.from({ length: STAGES }, () => new Uint8Array(direct ? native.alignedBuffer(STAGE_BYTES) : new ArrayBuffer(STAGE_BYTES)));
    this.pending = this.stages.map(() => Promise.resolve());
    // A direct write starts at an aligned offset: the first stage starts with the bytes before `start` in its block.
    this.position = direct ? start - (start % ALIGN) : start;
    this.fill = start - this.position;
    this.writtenEnd = start;
  }

  /** Creates `path`, which must not exist. */
  static async create(path: string, { direct = false } = {}): Promise<AppendFile> {
    const fh = await open(path, 'wx');
    return new AppendFile(path, fh, direct && native.setDirectIo(fh.fd, true), 0, true);
  }

  /** Appends to open file `fh` from offset `start` on (what lies after it is overwritten, and
   * cut off by complete()); the caller keeps fh open until complete() or abort() and closes it. */
  static async over(fh: FileHandle, path: string, start: number, { direct = false } = {}): Promise<AppendFile> {
    const f = new AppendFile(path, fh, direct && native.setDirectIo(fh.fd, true), start, false);
    if (f.fill) {
      // The bytes before `start` in its block are written again with the first stage (read
      // without O_DIRECT: the read is not aligned).
      native.setDirectIo(fh.fd, false);
      const { size } = await fh.stat();
      const have = Math.max(0, Math.min(start, size) - f.position);
      await readExactly(fh, f.stages[0].subarray(0, have), f.position, path);
      f.stages[0].fill(0, have, f.fill);
      native.setDirectIo(fh.fd, true);
    }
    return f;
  }

  /** Offset of the next byte appended (bytes appended so far, for a file made by create()). */
  get bytes(): number {
    return this.position + this.fill;
  }

  /** The file holds every byte before this offset. */
  get written(): number {
    return this.writtenEnd;
  }

  /** Resolves once the file holds every byte before offset `end` (rejects if a write failed). */
  whenWritten(end: number): Promise<void> {
    if (end <= this.writtenEnd) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ end, resolve, reject }));
  }

  /** Appends `bytes` (copied: the caller may reuse them once this resolves). */
  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.byteLength; ) {
      const n = Math.min(STAGE_BYTES - this.fill, bytes.byteLength - done);
      this.stages[this.current].set(bytes.subarray(done, done + n), this.fill);
      this.fill += n;
      done += n;
      if (this.fill === STAGE_BYTES) await this.flush();
    }
  }

  /** Writes what is staged and waits for every write; the file then ends at `bytes` and takes
   * ordinary (not direct) reads and writes. No write() may follow. */
  async complete(): Promise<void> {
    if (this.completed) return;
    const length = this.bytes;
    if (length > Math.max(this.start, this.position)) await this.flush(); // not when it holds only bytes from before `start`
    await Promise.all(this.pending);
    if (this.failure !== undefined) throw this.failure;
    // A direct write of the last stage was padded to ALIGN (even when a refused transfer switched
    // the file to the page cache while that write was under way).
    await this.fh.truncate(length);
    if (this.direct) native.setDirectIo(this.fh.fd, false);
    this.direct = false;
    this.completed = true;
  }

  /** Writes what is staged, then syncs and closes the file. */
  async finish(): Promise<void> {
    await this.complete();
    await this.fh.sync();
    this.closed = true;
    if (this.owned) await this.fh.close();
  }

  /** Waits for the writes in flight and closes a file made by create(), without finishing it
   * (the caller removes it). */
  async abort(): Promise<void> {
    await Promise.allSettled(this.pending);
    if (!this.closed && this.owned) await this.fh.close().catch(() => undefined);
    this.closed = true;
  }

  /** Starts writing the current stage and moves to the next one once its last write is done. */
  private async flush(): Promise<void> {
    const end = this.position + this.fill;
    const mark = { end, done: false };
    this.inFlight.push(mark);
    const written = this.writeStage(this.stages[this.current], this.fill, this.position).then(
      () => {
        mark.done = true;
        this.settle();
      },
      (e) => {
        this.fail(e);
        throw e;
      },
    );
    written.catch(() => undefined); // awaited when the stage is next used, or by complete
    this.pending[this.current] = written;
    this.position = end;
    this.fill = 0;
    this.current = (this.current + 1) % this.stages.length;
    await this.pending[this.current];
  }

  /** Counts the writes done in file order, and wakes whoever waits for them. */
  private settle(): void {
    while (this.inFlight.length && this.inFlight[0].done) this.writtenEnd = this.inFlight.shift()!.end;
    for (let i = 0; i < this.waiters.length; ) {
      if (this.waiters[i].end <= this.writtenEnd) this.waiters.splice(i, 1)[0].resolve();
      else i++;
    }
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }

  private async writeStage(stage: Uint8Array, length: number, at: number): Promise<void> {
    const direct = this.direct;
    let end = length;
    if (direct && length % ALIGN) {
      end = Math.ceil(length / ALIGN) * ALIGN;
      stage.fill(0, length, end);
    }
    try {
      await this.writeAll(stage, end, at);
    } catch (e) {
      // A file system may take the flag and still refuse a transfer: fall back to the page cache
      // (another stage's write in flight may have failed the same way and switched already).
      if (!direct || (e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      if (this.direct) {
        if (!native.setDirectIo(this.fh.fd, false)) throw e;
        this.direct = false;
      }
      await this.writeAll(stage, length, at);
    }
  }

  private async writeAll(buffer: Uint8Array, length: number, at: number): Promise<void> {
    for (let done = 0; done < length; ) {
      const { bytesWritten } = await this.fh.write(buffer, done, length - done, at + done);
      if (bytesWritten === 0) throw new Error(`${this.path}: the file system wrote nothing`);
      done += bytesWritten;
    }
  }
}

// A new file written front to back (safetensors outputs). Bytes gather in staging buffers, written
// while the next fills. With `direct` (decompressed shards) they are 4 KiB-aligned and go out with
// O_DIRECT where the file system takes it: a multi-GB output then costs no kernel copy per byte
// and does not fill the page cache with dirty pages that the final fsync must wait for
// (docs/BENCHMARKS.md, "End to end"). Where O_DIRECT is refused (some network and FUSE file
// systems) the same writes go through the page cache.
import { open, type FileHandle } from 'node:fs/promises';
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
  private position = 0;
  /** Each stage's write, if one is running. */
  private readonly pending: Array<Promise<void>>;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private direct: boolean,
  ) {
    this.stages = Array.from({ length: STAGES }, () => new Uint8Array(direct ? native.alignedBuffer(STAGE_BYTES) : new ArrayBuffer(STAGE_BYTES)));
    this.pending = this.stages.map(() => Promise.resolve());
  }

  /** Creates `path`, which must not exist. */
  static async create(path: string, { direct = false } = {}): Promise<AppendFile> {
    const fh = await open(path, 'wx');
    return new AppendFile(path, fh, direct && native.setDirectIo(fh.fd, true));
  }

  /** Bytes appended so far. */
  get bytes(): number {
    return this.position + this.fill;
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

  /** Writes what is staged, then syncs and closes the file. */
  async finish(): Promise<void> {
    const length = this.bytes;
    if (this.fill) await this.flush();
    await Promise.all(this.pending);
    // A direct write of the last stage was padded to ALIGN.
    if (length % ALIGN) await this.fh.truncate(length);
    await this.fh.sync();
    this.closed = true;
    await this.fh.close();
  }

  /** Closes the file without finishing it (the caller removes it). */
  async abort(): Promise<void> {
    await Promise.allSettled(this.pending);
    if (!this.closed) await this.fh.close().catch(() => undefined);
    this.closed = true;
  }

  /** Starts writing the current stage and moves to the next one once its last write is done. */
  private async flush(): Promise<void> {
    const written = this.writeStage(this.stages[this.current], this.fill, this.position);
    written.catch(() => undefined); // awaited when the stage is next used, or by finish
    this.pending[this.current] = written;
    this.position += this.fill;
    this.fill = 0;
    this.current = (this.current + 1) % this.stages.length;
    await this.pending[this.current];
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

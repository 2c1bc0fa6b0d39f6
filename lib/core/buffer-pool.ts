// Reusable byte buffers for compress, decompress and verify: each chunk's reads, byte planes,
// coded pieces, decoded streams and output come from the pool and go back once the chunk is
// written, so a run keeps touching the same few tens of MB instead of faulting in fresh pages for
// every chunk (page faults were a sixth of a lossless decompress's CPU time; docs/BENCHMARKS.md,
// "End to end"). The memory is native (native.alignedBuffer): 4 KiB-aligned for direct transfers,
// and on huge pages from 2 MiB on, which cut a lossless compress's page faults by three quarters.
import { native } from '../native';

/** Buffers below this size are not pooled (allocating them is cheap). */
const MIN_POOLED = 64 << 10;
/** Free buffers kept per size class; more given back are left to the garbage collector. */
const KEEP_PER_CLASS = 8;
/** The largest buffer native.alignedBuffer makes. */
const MAX_NATIVE = 1 << 30;

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** The pool's own buffers: give() ignores any other. */
  private readonly mine = new WeakSet<ArrayBuffer>();
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** `bytes` uninitialised bytes. */
  take(bytes: number): Buffer {
    if (bytes < MIN_POOLED) return Buffer.allocUnsafeSlow(bytes);
    const size = 2 ** Math.ceil(Math.log2(bytes)); // size classes: powers of two
    let ab = this.free.get(size)?.pop();
    if (!ab) {
      ab = size <= MAX_NATIVE ? native.alignedBuffer(size) : (Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer);
      this.mine.add(ab);
    }
    this.lent.add(ab);
    return Buffer.from(ab, 0, bytes);
  }

  /** Returns buffers from take() once nothing uses them; each backing buffer is taken back once
   * (views of the same buffer, or of buffers not from this pool, are ignored). */
  give(...views: ArrayBufferView[]): void {
    for (const v of views) {
      const ab = v.buffer as ArrayBuffer;
      if (!this.mine.has(ab) || !this.lent.has(ab)) continue;
      this.lent.delete(ab);
      const list = this.free.get(ab.byteLength) ?? [];
      if (list.length < KEEP_PER_CLASS) list.push(ab);
      this.free.set(ab.byteLength, list);
    }
  }
}

/** A buffer from the job's pool, or a fresh one without a pool. */
export function takeBuffer(pool: BufferPool | undefined, bytes: number): Buffer {
  return pool ? pool.take(bytes) : Buffer.allocUnsafeSlow(bytes);
}

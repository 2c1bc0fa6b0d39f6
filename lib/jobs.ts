// Bridges a native job ({ promise, cancel }) to the library's conventions: an AbortSignal stops
// it (promptly: kernels poll the flag) and rejects with AbortError; progress goes to onProgress.
import { AbortError } from './core/errors';
import type { NativeDevice, NativeJobHandle, ProgressCallback } from './native';
import type { BufferPool } from './core/buffer-pool';

export interface JobOptions {
  /** Stops the work; the promise then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called on the JS thread with (done, total) in the job's own units; coalesced. */
  onProgress?: ProgressCallback;
}

export async function runJob<T>(
  start: (onProgress: ProgressCallback | undefined) => NativeJobHandle<T>,
  { signal, onProgress }: JobOptions = {},
): Promise<T> {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const job = start(onProgress);
  const onAbort = () => job.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.promise;
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') throw new AbortError(e.message, { cause: signal?.reason });
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** What every native job of a run shares: threads, the device, cancellation and progress. Used by
 * the methods, the entropy stage, the container reader and the pipeline alike. */
export interface JobContext {
  threads: number;
  /** The job's device (lib/device.ts), passed unchanged to every native call that takes one: the
   * addon's backend table places each kernel there or, when it has no GPU version, on the CPU. */
  device?: NativeDevice;
  signal?: AbortSignal;
  /** Where decode paths take their buffers (decompress: reused chunk after chunk); absent: fresh
   * buffers. */
  buffers?: BufferPool;
  /** Progress within the current chunk's encode job, (done, total) in the job's units. */
  onProgress?: (done: number, total: number) => void;
}

// Bridges a native job ({ promise, cancel }) to the library's conventions: an AbortSignal stops
// it (promptly: kernels poll the flag) and rejects with AbortError; progress goes to onProgress.
import { AbortError } from './core/errors';
import type { NativeJobHandle, ProgressCallback } from './native';

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

// Waiting with a limit: a queue client retries a lost connection for ever, so every wait on it in
// a run is bounded and gives way to an abort at once.
import { AbortError } from './errors';

/** p, or the error of `late()` once `ms` have passed, or an AbortError as soon as `signal`
 * aborts. p keeps running (a caller that gives up on it disconnects what it waits on). */
export function withDeadline<T>(p: Promise<T>, ms: number, late: () => Error, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
    };
    const aborted = () => (done(), reject(new AbortError()));
    const timer = setTimeout(() => (done(), reject(late())), ms);
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
    p.then((v) => (done(), resolve(v)), (e) => (done(), reject(e)));
  });
}

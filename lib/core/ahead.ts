// Running asynchronous steps a few ahead of their consumer, results in order: decompress decodes
// the next chunks while the current one is written, verify while the current one is compared.

/** Chunks decoded ahead of the one consumed: 2 keeps both cores of a 2-core machine busy (one
 * entropy-decoding, one merging) at 3 x 8 MiB of decoded chunks at most. */
export const DECODE_AHEAD = 2;

/** Yields each step's result in order, with up to `depth` steps started ahead of the one
 * consumed. Whatever happens (a step fails, the consumer stops), no started step is left
 * running unobserved: they settle before the generator returns or throws. */
export async function* runAhead<T>(steps: Iterable<() => Promise<T>>, depth: number): AsyncGenerator<T> {
  const started: Array<Promise<T>> = [];
  const iterator = steps[Symbol.iterator]();
  const fill = () => {
    while (started.length <= depth) {
      const next = iterator.next();
      if (next.done) return;
      const p = next.value();
      p.catch(() => undefined); // observed when its turn comes, or in finally
      started.push(p);
    }
  };
  try {
    for (fill(); started.length; fill()) yield await started.shift()!;
  } finally {
    await Promise.allSettled(started);
  }
}

// One timing primitive for every benchmark: tinybench, the fastest run of a task, in seconds.
// The fastest, not the median: on a shared machine interference only ever slows a run down, so
// the fastest run is the stablest estimate of what the code (and, for the limits, the hardware)
// can do; medians moved by up to 2x between whole-suite runs on the 2-vCPU VM (docs/BENCHMARKS.md).

/** `bench kernels --smoke`: every task timed once without warm-up, so that a run checks that each
 * row runs in seconds rather than minutes. Set for one run by the runner (lib/tools/bench/run.ts). */
let smoke = false;
export const smokeTimings = () => smoke;
export function setSmokeTimings(on: boolean): void {
  smoke = on;
}

export async function measure(name: string, fn: () => unknown | Promise<unknown>, { time = 800, iterations = 5 } = {}): Promise<number> {
  const { Bench } = await import('tinybench');
  const bench = new Bench(smoke ? { time: 0, iterations: 1, warmup: false } : { time, iterations, warmupIterations: 2 });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (!result || !('latency' in result)) throw new Error(`benchmark ${name} did not complete (${result?.state})`);
  return result.latency.min / 1000;
}

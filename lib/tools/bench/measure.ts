// One timing primitive for every benchmark: tinybench, the fastest run of a task, in seconds.
// The fastest, not the median: on a shared machine interference only ever slows a run down, so
// the fastest run is the stablest estimate of what the code (and, for the limits, the hardware)
// can do; medians moved by up to 2x between whole-suite runs on the 2-vCPU VM (docs/BENCHMARKS.md).
export async function measure(name: string, fn: () => unknown | Promise<unknown>, { time = 800, iterations = 5 } = {}): Promise<number> {
  const { Bench } = await import('tinybench');
  const bench = new Bench({ time, iterations, warmupIterations: 2 });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (!result || !('latency' in result)) throw new Error(`benchmark ${name} did not complete (${result?.state})`);
  return result.latency.min / 1000;
}

// One timing primitive for every benchmark: tinybench, median latency of a task in seconds.
export async function measure(name: string, fn: () => unknown | Promise<unknown>, { time = 800, iterations = 5 } = {}): Promise<number> {
  const { Bench } = await import('tinybench');
  const bench = new Bench({ time, iterations, warmupIterations: 2 });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (!result || !('latency' in result)) throw new Error(`benchmark ${name} did not complete (${result?.state})`);
  return result.latency.p50 / 1000;
}

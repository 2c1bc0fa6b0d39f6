// `npm run bench`: measures the machine's limits, then every kernel against them, and writes a
// table to stdout and JSON to bench/results/latest.json. Wall-clock numbers live here only,
// never in tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../lib/index';
import { packageRoot } from '../lib/native';
import { defaultThreads } from '../lib/threads';
import { convertBench, type BenchRow } from './convert.bench';
import { kmeansBench } from './kmeans.bench';
import { lzmaBench } from './lzma.bench';
import { seedlmBench } from './seedlm.bench';
import { ternaryBench } from './ternary.bench';

const SUITES: Record<string, (threads: number) => Promise<BenchRow[]>> = {
  convert: convertBench,
  ternary: ternaryBench,
  seedlm: seedlmBench,
  kmeans: kmeansBench,
  lzma: lzmaBench,
};

/** `--only a,b` runs only the named suites. */
function suites(argv: string[]): string[] {
  const at = argv.indexOf('--only');
  if (at < 0) return Object.keys(SUITES);
  const names = (argv[at + 1] ?? '').split(',');
  for (const n of names) if (!SUITES[n]) throw new Error(`unknown bench suite '${n}' (suites: ${Object.keys(SUITES).join(', ')})`);
  return names;
}

async function main() {
  const threads = defaultThreads();
  const info = backendInfo();
  const rows: BenchRow[] = [];
  for (const name of suites(process.argv.slice(2))) rows.push(...(await SUITES[name](threads)));

  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, CPU path ${info.cpu}`;
  console.log(`machine: ${machine}`);
  console.log('throughput counts bytes read + written; each row is judged against the limit named beside it, measured in this run');
  console.log('');
  console.log(`${'kernel'.padEnd(72)} ${'throughput'.padStart(12)}  ${'% of limit'.padStart(10)}  limit`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(72)} ${(Number.isNaN(r.throughput) ? r.unit : r.throughput.toFixed(2) + ' ' + r.unit).padStart(12)}  ${Number.isNaN(r.pctOfLimit) ? '         -' : r.pctOfLimit.toFixed(1).padStart(9) + '%'}  ${r.limit}`,
    );

  const out = path.join(packageRoot, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, 'latest.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, backend: info, threads, rows }, null, 2));
  console.log(`\nJSON: ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

// `npm run bench`: measures the machine's limits, then every kernel against them, and writes a
// table to stdout and JSON to bench-results/latest.json (or --out). Wall-clock numbers live here
// only, never in tests.
//   --only a,b            run only these suites
//   --no-peers            skip the peers (xz, numpy, scikit-learn, faiss)
//   --runs N              run the suites N times: medians, and each row's spread
//   --out file.json       where to write the JSON
//   --compare base.json   judge each row against a baseline; exit 1 when one regressed
// The committed baseline is lib/tools/bench/baseline.json; docs/BENCHMARKS.md says how to update it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../../backend';
import { packageRoot } from '../../native';
import { defaultThreads } from '../../core/threads';
import { compareRuns, mergeRuns, type BenchFile, type RecordedRow } from './compare';
import { convertBench } from './convert.bench';
import { forwardBench } from './forward.bench';
import { kmeansBench } from './kmeans.bench';
import { limitRows, measureLimits } from './limits';
import { lzmaBench } from './stage.bench';
import { rtnBench } from './rtn.bench';
import type { BenchContext, BenchRow } from './row';
import { seedlmBench } from './seedlm.bench';
import { ternaryBench } from './ternary.bench';

const SUITES: Record<string, (ctx: BenchContext) => Promise<BenchRow[]>> = {
  convert: convertBench,
  rtn: rtnBench,
  ternary: ternaryBench,
  seedlm: seedlmBench,
  kmeans: kmeansBench,
  lzma: lzmaBench,
  forward: forwardBench,
};

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const v = argv[at + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

function parseArgs(argv: string[]) {
  const known = new Set(['--only', '--no-peers', '--runs', '--out', '--compare']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (options: ${[...known].join(', ')})`);
  const only = option(argv, '--only');
  const suites = only ? only.split(',') : Object.keys(SUITES);
  for (const n of suites) if (!SUITES[n]) throw new Error(`unknown bench suite '${n}' (suites: ${Object.keys(SUITES).join(', ')})`);
  const runs = Number(option(argv, '--runs') ?? 1);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const compare = option(argv, '--compare');
  // Read the baseline first: a bad file fails before minutes of benchmarks.
  const baseline = compare ? (JSON.parse(readFileSync(compare, 'utf8')) as BenchFile) : undefined;
  if (baseline && !Array.isArray(baseline.rows)) throw new Error(`${compare}: not a bench JSON file (no rows)`);
  return { suites, runs, peers: !argv.includes('--no-peers'), out: option(argv, '--out') ?? path.join(packageRoot, 'bench-results', 'latest.json'), compare, baseline };
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function printRows(rows: RecordedRow[]) {
  console.log(`${'kernel'.padEnd(80)} ${'value'.padStart(14)}  ${'% of limit'.padStart(10)}  limit`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(80)} ${(Number.isNaN(r.value) ? r.unit : `${fmt(r.value, r.unit === 'rel.err' ? 4 : 2)} ${r.unit}`).padStart(14)}  ${Number.isNaN(r.pctOfLimit) ? '         -' : r.pctOfLimit.toFixed(1).padStart(9) + '%'}  ${r.limit}${r.spread > 0.005 ? `  (spread ${(100 * r.spread).toFixed(0)}%)` : ''}`,
    );
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const threads = defaultThreads();
  const info = backendInfo();
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, CPU path ${info.cpu}`;
  const runs: BenchRow[][] = [];
  for (let i = 0; i < args.runs; i++) {
    if (args.runs > 1) console.error(`run ${i + 1}/${args.runs}`);
    const limits = await measureLimits(threads);
    const ctx: BenchContext = { threads, limits, peers: args.peers && i === 0 };
    const rows = limitRows(limits, threads);
    for (const name of args.suites) rows.push(...(await SUITES[name](ctx)));
    runs.push(rows);
  }
  const rows = mergeRuns(runs);
  console.log(`machine: ${machine}${args.runs > 1 ? `; medians of ${args.runs} runs` : ''}`);
  console.log('throughput counts bytes read + written; each row is judged against the limit named beside it, measured in this run');
  console.log('');
  printRows(rows);

  mkdirSync(path.dirname(args.out), { recursive: true });
  const file: BenchFile = { date: new Date().toISOString(), machine, threads, runs: args.runs, rows };
  writeFileSync(args.out, JSON.stringify({ ...file, backend: info }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  console.log(`\nJSON: ${path.relative(process.cwd(), args.out)}`);

  if (args.baseline) {
    const result = compareRuns(args.baseline, rows);
    console.log(`\ncompared with ${args.compare} (${args.baseline.machine}, ${args.baseline.date}); change > 1 is better`);
    console.log(`${'row'.padEnd(44)} ${'baseline'.padStart(10)} ${'now'.padStart(10)} ${'change'.padStart(8)} ${'tolerance'.padStart(9)}  verdict`);
    for (const c of result)
      console.log(`${c.id.padEnd(44)} ${fmt(c.baseline, 4).padStart(10)} ${fmt(c.now, 4).padStart(10)} ${fmt(c.change, 3).padStart(8)} ${(Number.isFinite(c.tolerance) ? `±${(100 * c.tolerance).toFixed(1)}%` : '-').padStart(9)}  ${c.verdict}`);
    const bad = result.filter((c) => c.verdict === 'regressed');
    console.log(bad.length ? `\n${bad.length} row(s) regressed: ${bad.map((c) => c.id).join(', ')}` : '\nno row regressed');
    if (bad.length) process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 2;
});

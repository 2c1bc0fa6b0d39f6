// `tensorzip bench kernels` (and `npm run bench`): measures the machine's limits, then every
// kernel of the suites asked for against them; with a GPU (`cuda`), the suites' GPU rows instead
// of their CPU rows (lib/tools/bench/gpu.bench.ts). Wall-clock numbers live here only, never in
// tests. Writing the JSON and judging it against a baseline are the CLI's (lib/cli/bench-commands.ts).
// The committed baseline is lib/tools/bench/baseline.json; docs/BENCHMARKS.md says how to update it.
import * as os from 'node:os';
import { backendInfo, type BackendInfo } from '../../backend';
import { SpecError } from '../../core/errors';
import { defaultThreads } from '../../core/threads';
import { mergeRuns, type BenchFile, type RecordedRow } from './compare';
import { convertBench } from './convert.bench';
import { forwardBench } from './forward.bench';
import { GPU_SUITES } from './gpu.bench';
import { kmeansBench } from './kmeans.bench';
import { limitRows, measureLimits } from './limits';
import { setSmokeTimings } from './measure';
import { lzmaBench } from './stage.bench';
import { rtnBench } from './rtn.bench';
import type { BenchContext, BenchRow } from './row';
import { seedlmBench } from './seedlm.bench';
import { CUDA_SUITES, SUITES, type SuiteName } from '../presets';
import { LIMITS } from './suites';
import { ternaryBench } from './ternary.bench';

const CPU_SUITES: Record<SuiteName, (ctx: BenchContext) => Promise<BenchRow[]>> = {
  convert: convertBench,
  rtn: rtnBench,
  ternary: ternaryBench,
  seedlm: seedlmBench,
  kmeans: kmeansBench,
  lzma: lzmaBench,
  forward: forwardBench,
};

export interface KernelOptions {
  /** Default: every suite (with cuda: every suite with GPU rows). */
  suites?: SuiteName[];
  /** Run the suites this many times: each row the median, with its spread (default 1). */
  runs?: number;
  /** Run the peers (xz, numpy, scikit-learn, faiss) when installed (default true). */
  peers?: boolean;
  threads?: number;
  /** A GPU index: the suites' GPU rows instead of their CPU rows. */
  cuda?: number;
  /** Each task timed once: checks that every row runs, in seconds; figures too noisy to judge. */
  smoke?: boolean;
  log?: (line: string) => void;
}

export type KernelsFile = BenchFile & { kind: 'kernels'; backend: BackendInfo };

export async function runKernels(o: KernelOptions = {}): Promise<KernelsFile> {
  const threads = o.threads ?? defaultThreads();
  const runs = o.runs ?? 1;
  const info = backendInfo();
  const gpu = o.cuda === undefined ? undefined : 'gpus' in info.cuda ? info.cuda.gpus[o.cuda] : undefined;
  if (o.cuda !== undefined && !gpu) throw new Error(`no GPU ${o.cuda}: ${'unavailable' in info.cuda ? info.cuda.unavailable : `${info.cuda.gpus.length} found`}`);
  const suites = o.suites ?? (gpu ? [...CUDA_SUITES] : [...SUITES]);
  const noGpuRows = gpu ? suites.filter((s) => !GPU_SUITES[s]) : [];
  if (noGpuRows.length) throw new SpecError(`--device cuda:${o.cuda}: suite ${noGpuRows.join(', ')} has no CUDA kernel (suites with one: ${CUDA_SUITES.join(', ')})`);
  const suiteRows = (name: SuiteName) => (gpu ? GPU_SUITES[name]! : CPU_SUITES[name]);
  const all: BenchRow[][] = [];
  setSmokeTimings(!!o.smoke);
  try {
    for (let i = 0; i < runs; i++) {
      if (runs > 1) o.log?.(`run ${i + 1}/${runs}`);
      const limits = await measureLimits(threads, o.cuda);
      // Peers run once: they are printed, never judged.
      const ctx: BenchContext = { threads, limits, peers: (o.peers ?? true) && i === 0, cuda: o.cuda };
      const rows = limitRows(limits, threads).map((r) => ({ ...r, suite: LIMITS }));
      for (const name of suites) {
        o.log?.(`running ${name}${gpu ? ` on GPU ${o.cuda}` : ''}`);
        rows.push(...(await suiteRows(name)(ctx)).map((r) => ({ ...r, suite: name })));
      }
      all.push(rows);
    }
  } finally {
    setSmokeTimings(false);
  }
  const cpu = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, CPU path ${info.cpu}`;
  return {
    kind: 'kernels',
    date: new Date().toISOString(),
    machine: gpu ? `${cpu}; GPU ${o.cuda}: ${gpu.name}` : cpu,
    threads,
    runs,
    device: gpu ? `cuda:${o.cuda} (${gpu.name})` : 'cpu',
    ...(o.smoke ? { smoke: true } : {}),
    rows: mergeRuns(all),
    backend: info,
  };
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function formatRows(rows: RecordedRow[]): string[] {
  return [
    `${'kernel'.padEnd(80)} ${'value'.padStart(14)}  ${'% of limit'.padStart(10)}  limit`,
    ...rows.map(
      (r) =>
        `${r.name.padEnd(80)} ${(Number.isNaN(r.value) ? r.unit : `${fmt(r.value, r.unit === 'rel.err' ? 4 : 2)} ${r.unit}`).padStart(14)}  ` +
        `${Number.isNaN(r.pctOfLimit) ? '         -' : r.pctOfLimit.toFixed(1).padStart(9) + '%'}  ${r.limit}${r.spread > 0.005 ? `  (spread ${(100 * r.spread).toFixed(0)}%)` : ''}`,
    ),
  ];
}

export function formatKernels(f: KernelsFile): string {
  return [
    `machine: ${f.machine}${f.runs > 1 ? `; medians of ${f.runs} runs` : ''}${f.smoke ? '; --smoke: each figure from one timing, too noisy to judge' : ''}`,
    'throughput counts bytes read + written; each row is judged against the limit named beside it, measured in this run',
    '',
    ...formatRows(f.rows),
  ].join('\n');
}

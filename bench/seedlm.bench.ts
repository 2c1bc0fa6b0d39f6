// seedlm exhaustive search: seed trials per second and effective GFLOP/s against the FMA peak
// measured in the same run, milliseconds per block against the published numpy replication (3-5 ms per block
// on 2 cores), and the time one 1536 x 8960 tensor takes, extrapolated from the blocks measured.
//
// Operations counted per trial (one block, one seed), an FMA as 2, a multiply or subtract as 1:
//   t* = pinv·w: C·P FMAs; per candidate exponent (3): C·P FMAs (Σ x·q), C multiplies (· scale),
//   C subtracts and C FMAs (squared residual). C 8, P 3: 48 + 3·80 = 288; C 12, P 4: 96 + 3·144 = 528.
// "Effective": every trial is counted at that cost, including the seeds the exact pruning bound
// (seedlm_avx2.cc) skips after a cheaper screen; so the percentage says how the search compares
// with running the definition at the FMA peak, not how busy the FMA units are.
// The approximate mode (:fast) per trial: C·P FMAs (t*), C·P FMAs (U·t*), C multiplies, C
// subtracts, C FMAs: 4·C·P + 4·C (128 and 240), plus exact trials for its 8 shortlisted seeds.
import { runJob } from '../lib/jobs';
import { FAST_KEEP } from '../lib/methods/seedlm';
import { metricsFromSums } from '../lib/metrics';
import { native } from '../lib/native';
import { weightMatrix } from '../lib/random';
import type { BenchRow } from './convert.bench';
import { measure } from './measure';

const PRESETS = [
  { spec: 'seedlm:4', C: 8, P: 3 },
  { spec: 'seedlm:3', C: 12, P: 4 },
];
const flopsPerTrial = (C: number, P: number, fast: boolean) => (fast ? 4 * C * P + 4 * C : 2 * C * P + 3 * (2 * C * P + 4 * C));
const SEEDS = 65535;

export async function seedlmBench(threads: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const peak1 = native.fmaPeak(1, 1);
  const peakAll = native.fmaPeak(threads, 1);
  rows.push(
    { name: 'FMA peak, 1 thread (the limit)', throughput: peak1, unit: 'GFLOP/s', pctOfLimit: 100, limit: 'itself' },
    { name: `FMA peak, ${threads} threads (the limit)`, throughput: peakAll, unit: 'GFLOP/s', pctOfLimit: 100, limit: 'itself' },
  );
  for (const { spec, C, P } of PRESETS) {
    native.seedlmTables(C, P); // built once per process, outside the timings
    const errors: number[] = [];
    for (const keep of [0, FAST_KEEP]) {
      const mode = keep ? `${spec}:fast` : spec;
      for (const [t, blocks] of [[1, 64], [threads, 64 * threads]] as const) {
        const w = weightMatrix(blocks, C, 13);
        const eMin = native.seedlmExpMin(w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
        const seeds = new Uint16Array(blocks);
        const fields = new Uint8Array(blocks * (P + 1));
        const s = await measure(`${mode} search ${t}t`, () => runJob((p) => native.seedlmEncodeAsync(w, C, P, eMin, keep, seeds, fields, { threads: t }, p)), { time: 1, iterations: 3 });
        const trials = (blocks * SEEDS) / s;
        const gflops = (trials * flopsPerTrial(C, P, keep > 0)) / 1e9;
        const perBlockMs = (1000 * s) / blocks;
        const peak = t === 1 ? peak1 : peakAll;
        const where = `${mode} (C ${C}, P ${P}), ${t} thread${t === 1 ? '' : 's'}`;
        rows.push(
          { name: `${where}: seed trials`, throughput: trials / 1e6, unit: 'M/s', pctOfLimit: NaN, limit: '-' },
          { name: `${where}: effective arithmetic`, throughput: gflops, unit: 'GFLOP/s', pctOfLimit: (100 * gflops) / peak, limit: `FMA peak ${t} thread${t === 1 ? '' : 's'}` },
          { name: `${where}: per block (replication: 3-5 ms on 2 cores)`, throughput: perBlockMs, unit: 'ms', pctOfLimit: NaN, limit: 'peer' },
        );
        if (t === threads) {
          const tensorBlocks = Math.ceil((1536 * 8960) / C);
          rows.push({ name: `${where}: one 1536x8960 tensor (extrapolated from ${blocks} blocks)`, throughput: (tensorBlocks * s) / blocks, unit: 's', pctOfLimit: NaN, limit: '-' });
          const out = new Float32Array(w.length);
          native.seedlmDecode(out, C, P, eMin, seeds, fields);
          errors.push(metricsFromSums(native.errorSums(w, out)).relativeError);
        }
      }
    }
    rows.push({
      name: `${spec}: relative error, exhaustive ${errors[0].toFixed(4)} -> :fast ${errors[1].toFixed(4)} (${(100 * (errors[1] / errors[0] - 1)).toFixed(1)}% higher)`,
      throughput: errors[1],
      unit: 'rel.err',
      pctOfLimit: NaN,
      limit: '-',
    });
  }
  return rows;
}

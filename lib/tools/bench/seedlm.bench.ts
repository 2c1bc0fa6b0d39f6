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
import { runJob } from '../../jobs';
import { FAST_KEEP } from '../../methods/seedlm';
import { metricsFromSums } from '../../pipeline/metrics';
import { native } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { bandwidthRow, figureRow, flopsRow, infoRow, threadWord, type BenchContext, type BenchRow } from './row';

export const PRESETS = [
  { spec: 'seedlm:4', C: 8, P: 3 },
  { spec: 'seedlm:3', C: 12, P: 4 },
];
export const flopsPerTrial = (C: number, P: number, fast: boolean) => (fast ? 4 * C * P + 4 * C : 2 * C * P + 3 * (2 * C * P + 4 * C));
export const SEEDS = 65535;

export async function seedlmBench({ threads, limits }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const { spec, C, P } of PRESETS) {
    native.seedlmTables(C, P); // built once per process, outside the timings
    const errors: number[] = [];
    for (const keep of [0, FAST_KEEP]) {
      const mode = keep ? `${spec}:fast` : spec;
      for (const [t, blocks] of [[1, 64], [threads, 64 * threads]] as const) {
        const w = weightMatrix(blocks, C, 13);
        const { eMin } = native.seedlmTables(C, P, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
        const seeds = new Uint16Array(blocks);
        const fields = new Uint8Array(blocks * (P + 1));
        const s = await measure(`${mode} search ${t}t`, () => runJob((p) => native.seedlmEncode({ weights: w, C, P, eMin, keep, seeds, fields, threads: t }, p)), { time: 1, iterations: 3 });
        const trials = (blocks * SEEDS) / s;
        const gflops = (trials * flopsPerTrial(C, P, keep > 0)) / 1e9;
        const where = `${mode} (C ${C}, P ${P}), ${threadWord(t)}`;
        const id = `seedlm.${mode.replace('seedlm:', '')}.search.${t === 1 ? '1t' : 'nt'}`;
        rows.push(
          infoRow(`${id}.trials`, `${where}: seed trials`, trials / 1e6, 'M/s'),
          flopsRow(id, `${where}: effective arithmetic`, gflops, limits, t),
          infoRow(`${id}.per-block`, `${where}: per block (replication: 3-5 ms on 2 cores)`, (1000 * s) / blocks, 'ms', 'peer'),
        );
        if (t === threads) {
          const tensorBlocks = Math.ceil((1536 * 8960) / C);
          rows.push(infoRow(`${id}.tensor`, `${where}: one 1536x8960 tensor (extrapolated from ${blocks} blocks)`, (tensorBlocks * s) / blocks, 's'));
          const out = new Float32Array(w.length);
          await native.seedlmDecode({ out, C, P, eMin, seeds, fields }).promise;
          errors.push(metricsFromSums(native.tensorStats(w, out)).relativeError);
        }
      }
    }
    rows.push(
      figureRow(`seedlm.${spec.replace('seedlm:', '')}.error`, `${spec}: relative error, exhaustive search`, errors[0], 'rel.err', 'lower'),
      figureRow(`seedlm.${spec.replace('seedlm:', '')}.fast.error`, `${spec}:fast: relative error (${(100 * (errors[1] / errors[0] - 1)).toFixed(1)}% above exhaustive)`, errors[1], 'rel.err', 'lower'),
    );
    rows.push(...(await decodeRows(spec, C, P, threads, limits)));
  }
  return rows;
}

/** Decoding regenerates each block's LFSR basis: f32 weights out per second, seeds + fields in. */
async function decodeRows(spec: string, C: number, P: number, threads: number, limits: BenchContext['limits']): Promise<BenchRow[]> {
  const blocks = Math.ceil((1536 * 8960) / C);
  const seeds = new Uint16Array(blocks).map((_, i) => 1 + ((i * 2654435761) % 65535));
  // Valid fields: a 4-bit exponent, then P coefficients in [-8, 7] as int8.
  const fields = new Uint8Array(blocks * (P + 1)).map((_, i) => (i % (P + 1) === 0 ? (i >> 3) % 16 : (((i * 7) % 16) - 8) & 0xff));
  const out = new Float32Array(blocks * C);
  const traffic = 4 * out.length + 2 * blocks + fields.length;
  const { eMin } = native.seedlmTables(C, P, 0.1);
  const one = await measure(`${spec} decode 1t`, () => runJob((p) => native.seedlmDecode({ out, C, P, eMin, seeds, fields, threads: 1 }, p)));
  const job = await measure(`${spec} decode`, () => runJob((p) => native.seedlmDecode({ out, C, P, eMin, seeds, fields, threads }, p)));
  const id = `seedlm.${spec.replace('seedlm:', '')}.decode`;
  return [
    bandwidthRow(`${id}.1t`, `${spec} decode 1536x8960 to f32, 1 thread`, traffic / one, limits, 1),
    bandwidthRow(`${id}.job`, `${spec} decode 1536x8960 to f32, job, ${threadWord(threads)}`, traffic / job, limits, threads),
  ];
}

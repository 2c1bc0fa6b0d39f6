// One line per method run for the demo and the end-to-end benchmark: what the whole container
// costs (ratio, bits/weight) and how close the tensors stored with the method came (mean
// relative error and SNR over them), measured on the files. A method too slow to run over the
// whole model is run on a subset of its tensors and extrapolated, and says so.
import * as path from 'node:path';
import type { CompressReport, TensorReport } from '../pipeline/compress';
import { numelOf, type Dtype } from '../io/dtypes';
import { parseSpec, type MethodChoice } from '../methods/registry';
import { assign } from '../pipeline/policy';
import { writeSubset } from './subset';

export interface RunSummary {
  /** The method spec asked for. */
  spec: string;
  originalBytes: number;
  containerBytes: number;
  /** Original file bytes / container bytes. */
  ratio: number;
  /** Container bits over every weight of the model. */
  bitsPerWeight: number;
  /** The tensors stored with the method asked for (others follow the default policy). */
  methodTensors: number;
  methodWeights: number;
  /** Their stored bits per weight, after the entropy stage. */
  methodBitsPerWeight: number;
  /** Mean over those tensors of ‖w − ŵ‖/‖w‖ (0 when lossless). */
  meanRelativeError: number;
  /** Mean over those tensors of the SNR in dB (Infinity when lossless). */
  meanSnrDb: number;
  seconds: number;
  /** Set when the figures are extrapolated from a subset of the tensors. */
  extrapolated?: { subsetTensors: number; subsetWeights: number; subsetSeconds: number; howTime: string };
}

/** What the default policy does with a reported tensor under `chosen`. */
const planned = (t: TensorReport, chosen: MethodChoice) => assign({ name: t.name, dtype: t.dtype as Dtype, shape: t.shape, numel: numelOf(t.shape) }, chosen, []);

/** The tensors stored with the spec asked for, not replaced by the default policy (embeddings at
 * rtn:8, 1-D and tiny tensors lossless) nor by a fallback (NaN/Inf stored lossless). */
function methodTensors(report: CompressReport, spec: string): TensorReport[] {
  const chosen = parseSpec(spec);
  return report.tensors.filter((t) => {
    const a = planned(t, chosen);
    return !a.note && a.choice.spec === t.method;
  });
}

function means(tensors: TensorReport[]): { meanRelativeError: number; meanSnrDb: number } {
  if (!tensors.length) return { meanRelativeError: NaN, meanSnrDb: NaN };
  const rel = tensors.map((t) => t.metrics?.relativeError ?? 0);
  const snr = tensors.map((t) => t.metrics?.snrDb ?? Infinity);
  return { meanRelativeError: rel.reduce((a, b) => a + b, 0) / rel.length, meanSnrDb: snr.reduce((a, b) => a + b, 0) / snr.length };
}

/** Methods too slow for every matrix on a CPU (SeedLM's exhaustive search), and the tensors they
 * run on instead: the same statistics as the rest (lib/tools/generate.ts). */
export const onSubset = (spec: string) => spec.startsWith('seedlm');
export const SUBSET = { pattern: /^model\.layers\.0\.self_attn\.[kv]_proj\.weight$/, what: "layer 0's k_proj and v_proj" };

const weightsOf = (tensors: ReadonlyArray<{ shape: number[] }>) => tensors.reduce((a, t) => a + numelOf(t.shape), 0);
const storedOf = (tensors: TensorReport[]) => tensors.reduce((a, t) => a + t.storedBytes, 0);

export function summarize(spec: string, report: CompressReport): RunSummary {
  const mine = methodTensors(report, spec);
  const weights = weightsOf(mine);
  return {
    spec,
    originalBytes: report.originalBytes,
    containerBytes: report.containerBytes,
    ratio: report.ratio,
    bitsPerWeight: report.bitsPerWeight,
    methodTensors: mine.length,
    methodWeights: weights,
    methodBitsPerWeight: weights ? (8 * storedOf(mine)) / weights : NaN,
    ...means(mine),
    seconds: report.seconds,
  };
}

/**
 * The whole-model figures of `spec` from `subset` (a run of spec over some of the model's
 * tensors) and `reference` (a run over the whole model with another lossy method, so that the
 * tensors the default policy does not give to spec were stored as spec would store them).
 * Bytes: the subset's stored bytes per weight times the weights spec gets, plus the reference's
 * bytes for every other tensor and for the container's own metadata. Errors: the subset's means.
 * Time: the subset's seconds per weight times the weights spec gets, plus the whole reference
 * run (an upper bound for the other tensors).
 */
export function extrapolate(spec: string, subset: CompressReport, reference: { spec: string; report: CompressReport }): RunSummary {
  const chosen = parseSpec(spec);
  const sample = methodTensors(subset, spec);
  const sampleWeights = weightsOf(sample);
  if (!sampleWeights) throw new Error(`the ${spec} subset run stored no tensor with ${spec}`);
  const bytesPerWeight = storedOf(sample) / sampleWeights;
  let weights = 0, tensors = 0, otherBytes = 0;
  for (const t of reference.report.tensors) {
    const a = planned(t, chosen);
    if (!a.note) {
      weights += numelOf(t.shape);
      tensors++;
    } else if (a.choice.spec === t.method) otherBytes += t.storedBytes;
    else throw new Error(`the ${reference.spec} run stored ${t.name} as ${t.method}, but ${spec} would store it as ${a.choice.spec}`);
  }
  const metadataBytes = reference.report.containerBytes - storedOf(reference.report.tensors);
  const containerBytes = Math.round(weights * bytesPerWeight + otherBytes + metadataBytes);
  return {
    spec,
    originalBytes: reference.report.originalBytes,
    containerBytes,
    ratio: reference.report.originalBytes / containerBytes,
    bitsPerWeight: (8 * containerBytes) / reference.report.weights,
    methodTensors: tensors,
    methodWeights: weights,
    methodBitsPerWeight: 8 * bytesPerWeight,
    ...means(sample),
    seconds: (subset.seconds / sampleWeights) * weights + reference.report.seconds,
    extrapolated: {
      subsetTensors: sample.length,
      subsetWeights: sampleWeights,
      subsetSeconds: subset.seconds,
      howTime: `the subset's seconds per weight over all ${tensors} tensors, plus the whole ${reference.spec} run`,
    },
  };
}

/** The footnote of a table with an extrapolated row: what ran, and how the row was made. */
export function extrapolationNote(rows: RunSummary[], threads: number): string[] {
  const row = rows.find((r) => r.extrapolated);
  const sub = row?.extrapolated;
  if (!sub) return [];
  return [
    `* SeedLM searches all 65,535 seeds per block: too slow for every matrix on ${threads} CPU threads. These rows ran on ${SUBSET.what}`,
    `  (${sub.subsetWeights.toLocaleString('en-US')} weights, ${sub.subsetSeconds.toFixed(1)} s) and are extrapolated (≈) to all ${row.methodTensors} matrices:` +
      ` bytes from the subset's bits/weight, time from ${sub.howTime}.`,
  ];
}

/** The whole-model run that stands in for a subset run's other tensors. */
export const REFERENCE = 'rtn:4';

/**
 * Each spec over the model at `modelDir`, in order; a spec too slow for the whole model
 * (onSubset) over the SUBSET tensors (written to `work`), extrapolated with the REFERENCE run,
 * which runs once when first needed. `compressRun` does one compress of `input` with `spec`.
 * Returns each spec's summary and the runs it used.
 */
export async function runMethods<R extends { report: CompressReport }>(
  modelDir: string,
  work: string,
  methods: string[],
  compressRun: (input: string, spec: string) => Promise<R>,
  onStep?: (index: number, total: number, spec: string) => void,
): Promise<Array<{ summary: RunSummary; runs: R[] }>> {
  const full = new Map<string, R>();
  const fullRun = async (spec: string) => {
    let r = full.get(spec);
    if (!r) full.set(spec, (r = await compressRun(modelDir, spec)));
    return r;
  };
  let subsetFile: string | undefined;
  const out: Array<{ summary: RunSummary; runs: R[] }> = [];
  for (const [i, spec] of methods.entries()) {
    onStep?.(i, methods.length, spec);
    if (!onSubset(spec)) {
      const r = await fullRun(spec);
      out.push({ summary: summarize(spec, r.report), runs: [r] });
      continue;
    }
    if (!subsetFile) await writeSubset(modelDir, (n) => SUBSET.pattern.test(n), (subsetFile = path.join(work, 'subset.safetensors')));
    const sub = await compressRun(subsetFile, spec);
    const ref = await fullRun(REFERENCE);
    out.push({ summary: extrapolate(spec, sub.report, { spec: REFERENCE, report: ref.report }), runs: [sub, ref] });
  }
  return out;
}

// `compress --target-bpw` / `--target-size` (docs/METHODS.md, "Bit budgets"): a method per weight
// matrix, chosen from a candidate set so that the model loses least under a byte budget.
//  1. Every candidate is run over the whole model (each matrix stored with it), which measures each
//     matrix's stored bytes and relative error e under each candidate: its error curve.
//  2. Each matrix's sensitivity s: with calibration text, the KL divergence the model suffers with
//     that matrix alone stored with the probe candidate, over the probe's e² (the loss grows with the
//     squared error, and losses of different matrices add: HIGGS's linearity model); without text,
//     the matrix's weight count (every weight's squared relative error counts alike).
//  3. The predicted loss of a matrix under a candidate is s·e²; lib/budget/allocate.ts picks the
//     plan of least summed loss whose bytes fit the budget less the container's other bytes.
//  4. The container is written with that plan; should it still exceed the budget (its header holds
//     the plan), the overshoot comes off the budget and it is planned and written again. Every
//     container is written in a work folder beside the output (a temp name, so a later run removes
//     it should this one be killed) and only the one that fits is renamed onto the output.
import { mkdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { SpecError } from '../core/errors';
import { evaluate } from '../eval/perplexity';
import { chunkTokens, loadTokens, type TokenInput } from '../eval/chunks';
import { checkOutput } from '../io/output-path';
import { tempPathFor } from '../io/temp-files';
import { LlamaModel } from '../model/llama';
import { openWeights } from '../model/weights';
import { parseSpec } from '../methods/registry';
import { compress, dryRun, type CompressOptions, type CompressReport } from '../pipeline/compress';
import { TINY_TENSOR } from '../pipeline/policy';
import { allocate, type BudgetItem } from './allocate';
import { DEFAULT_CANDIDATES } from './candidates';

/** The candidate whose errors calibrate the sensitivities (added to the runs when not a candidate). */
export const PROBE = 'rtn:3:g32'; // as stored, the form candidates are compared in
/** Tries of step 4 before giving up. */
const TRIES = 4;

export interface BudgetTarget {
  /** Container bits over every weight of the model. */
  bitsPerWeight?: number;
  /** Container bytes. */
  bytes?: number;
}

export interface BudgetOptions extends Omit<CompressOptions, 'method' | 'policy' | 'resume'> {
  target: BudgetTarget;
  candidates?: string[];
  /** Text (or token ids) to measure sensitivities and the result's KL divergence with; without
   * it the data-free proxy plans and no KL is predicted or measured. */
  calibration?: TokenInput;
  /** Tokens per calibration chunk (default 256) and chunks to use (default: all). */
  calibrationCtx?: number;
  calibrationChunks?: number;
  /** What the planner is doing, for the user (a candidate run, a sensitivity, a try). */
  onStage?: (line: string) => void;
}

export interface PlannedTensor {
  name: string;
  spec: string;
  bytes: number;
  relativeError: number;
  /** s·e²: predicted KL (nats) with calibration, weighted squared error without. */
  predictedLoss: number;
  sensitivity: number;
}

export interface BudgetReport {
  compress: CompressReport;
  targetBytes: number;
  targetBitsPerWeight: number;
  candidates: string[];
  sensitivity: 'calibrated' | 'data-free';
  plan: PlannedTensor[];
  /** With calibration: the sum of the plan's predicted losses, and what eval --against measured
   * on the calibration text. */
  predictedKl?: number;
  measured?: { klMean: number; top1Agreement: number; scored: number };
  tries: number;
  seconds: number;
}

interface Measured {
  spec: string;
  bytes: number;
  relativeError: number;
}

/** A policy glob that matches exactly `name` (glob characters escaped). */
const exactGlob = (name: string) => name.replace(/[\\*?[\]{}()!+@|^$]/g, '\\$&');
const policyOf = (plan: ReadonlyMap<string, string>) => Object.fromEntries([...plan].map(([name, spec]) => [exactGlob(name), spec]));

function targetBytesOf(target: BudgetTarget, weights: number): number {
  if ((target.bitsPerWeight === undefined) === (target.bytes === undefined)) throw new SpecError('give exactly one of --target-bpw and --target-size');
  if (target.bytes !== undefined) {
    if (!(Number.isInteger(target.bytes) && target.bytes > 0)) throw new SpecError(`--target-size must be a positive number of bytes (got ${target.bytes})`);
    return target.bytes;
  }
  const bpw = target.bitsPerWeight!;
  if (!(Number.isFinite(bpw) && bpw > 0 && bpw <= 32)) throw new SpecError(`--target-bpw must be a number above 0 and at most 32 (got ${bpw})`);
  return Math.floor((bpw * weights) / 8);
}

export async function compressToBudget(input: string, output: string, options: BudgetOptions): Promise<BudgetReport> {
  const t0 = performance.now();
  const stage = options.onStage ?? (() => {});
  // Specs as stored (rtn:3 and rtn:3:g32 are one candidate).
  const candidates = [...new Set((options.candidates ?? DEFAULT_CANDIDATES).map((c) => parseSpec(c).spec))];
  for (const c of candidates) if (!parseSpec(c).method.lossy) throw new SpecError(`--candidates: ${c} is lossless; a budget chooses among lossy methods (lossless stays for what the policy keeps lossless)`);
  if (!candidates.length) throw new SpecError('--candidates is empty');
  const dry = await dryRun(input, { method: candidates[0], exclude: options.exclude, include: options.include });
  const targetBytes = targetBytesOf(options.target, dry.weights);
  const inputs = [input, options.importance, options.calibration?.text, options.calibration?.tokens].filter((f): f is string => f !== undefined);
  await checkOutput(output, { kind: 'file', inputs, force: options.force });
  // The calibration text and the model's forward pass are needed only after every candidate
  // has run: a text that cannot be read, or a model that is not a Llama, is refused now.
  if (options.calibration) {
    const model = await LlamaModel.open(input);
    try {
      chunkTokens(await loadTokens(options.calibration, model.weights, model.config, options.signal), { ctx: options.calibrationCtx ?? 256, chunks: options.calibrationChunks });
    } finally {
      await model.close();
    }
  }
  const matrices = dry.tensors.filter((t) => t.shape.length >= 2 && t.originalBytes / (t.dtype === 'F32' ? 4 : 2) >= TINY_TENSOR && ['F32', 'F16', 'BF16'].includes(t.dtype));
  if (!matrices.length) throw new SpecError(`${input}: no weight matrix to plan (a budget chooses methods for 2-D float tensors of at least ${TINY_TENSOR} elements)`);
  // The candidate runs' notes would repeat once per candidate: only the final write's are shown.
  const common: CompressOptions = { ...options, resume: false, force: false, onProgress: undefined, onNote: undefined };
  const work = tempPathFor(path.resolve(output));
  await mkdir(work);
  try {
    // 1. Error curves.
    const runs = candidates.includes(PROBE) || !options.calibration ? candidates : [...candidates, PROBE];
    const curves = new Map<string, Measured[]>(matrices.map((t) => [t.name, []]));
    const probeErrors = new Map<string, number>();
    let otherBytes = 0;
    const probeFile = path.join(work, 'probe.tzip');
    for (const [i, spec] of runs.entries()) {
      stage(`candidate ${i + 1}/${runs.length}: ${spec}`);
      const file = spec === PROBE ? probeFile : path.join(work, 'candidate.tzip');
      const choice = parseSpec(spec);
      const report = await compress(input, file, {
        ...common,
        method: spec,
        policy: policyOf(new Map(matrices.map((t) => [t.name, spec]))),
        importance: choice.method.usesImportance?.(choice.params) ? options.importance : undefined,
      });
      let stored = 0;
      for (const t of report.tensors) {
        const curve = curves.get(t.name);
        if (!curve) continue;
        stored += t.storedBytes;
        if (candidates.includes(spec)) curve.push({ spec: t.method, bytes: t.storedBytes, relativeError: t.metrics?.relativeError ?? 0 });
        if (spec === PROBE) probeErrors.set(t.name, t.metrics?.relativeError ?? 0);
      }
      otherBytes = Math.max(otherBytes, report.containerBytes - stored);
      if (file !== probeFile) await rm(file, { force: true });
    }

    // 2. Sensitivities.
    const sensitivity = new Map<string, number>();
    if (options.calibration) {
      const reader = await openWeights(probeFile);
      try {
        for (const [i, t] of matrices.entries()) {
          stage(`sensitivity ${i + 1}/${matrices.length}: ${t.name}`);
          const e = probeErrors.get(t.name) ?? 0;
          const r = await evaluate(input, options.calibration, {
            against: input,
            replace: new Map([[t.name, await reader.read(t.name, { threads: options.threads, signal: options.signal })]]),
            ctx: options.calibrationCtx ?? 256,
            chunks: options.calibrationChunks,
            threads: options.threads,
            signal: options.signal,
          });
          sensitivity.set(t.name, e > 0 ? Math.max(0, r.kl!.mean) / (e * e) : NaN);
        }
      } finally {
        await reader.close();
      }
      // A matrix the probe stored exactly has no measured sensitivity: the largest measured one.
      const known = [...sensitivity.values()].filter(Number.isFinite);
      const fallback = known.length ? Math.max(...known) : 1;
      for (const [name, s] of sensitivity) if (!Number.isFinite(s)) sensitivity.set(name, fallback);
    } else {
      for (const t of matrices) sensitivity.set(t.name, t.shape.reduce((a, b) => a * b, 1));
    }

    // 3 and 4. Plan, write, check.
    const items: BudgetItem[] = matrices.map((t) => ({
      name: t.name,
      options: dedupe(curves.get(t.name)!).map((m) => ({ spec: m.spec, bytes: m.bytes, loss: sensitivity.get(t.name)! * m.relativeError ** 2 })),
    }));
    // The header names every matrix's spec: allow for specs longer than the candidate runs' own.
    let budget = targetBytes - otherBytes - 16 * matrices.length;
    for (let attempt = 1; ; attempt++) {
      const chosen = budget > 0 ? allocate(items, budget) : undefined;
      if (!chosen) {
        const least = items.reduce((a, it) => a + Math.min(...it.options.map((o) => o.bytes)), otherBytes);
        throw new SpecError(`the target (${targetBytes} bytes, ${((8 * targetBytes) / dry.weights).toFixed(3)} bits/weight) is below the smallest container the candidates make (about ${least} bytes, ${((8 * least) / dry.weights).toFixed(3)} bits/weight)`);
      }
      const plan = items.map((it, i) => ({ name: it.name, option: it.options[chosen[i]] }));
      stage(`writing the container (try ${attempt})`);
      const specs = new Set(plan.map((p) => p.option.spec));
      const usesImportance = [...specs].some((spec) => {
        const c = parseSpec(spec);
        return c.method.usesImportance?.(c.params) ?? false;
      });
      const file = path.join(work, 'plan.tzip');
      const report = await compress(input, file, {
        ...options,
        resume: false,
        force: true,
        importance: usesImportance ? options.importance : undefined,
        policy: policyOf(new Map(plan.map((p) => [p.name, p.option.spec]))),
        method: candidates[0],
      });
      if (report.containerBytes > targetBytes) {
        await rm(file, { force: true });
        if (attempt === TRIES) throw new Error(`could not fit the target of ${targetBytes} bytes in ${TRIES} tries (last: ${report.containerBytes} bytes)`);
        budget -= report.containerBytes - targetBytes + 64;
        continue;
      }
      const byName = new Map(curves);
      const planned: PlannedTensor[] = plan.map(({ name, option }) => {
        const m = byName.get(name)!.find((x) => x.spec === option.spec)!;
        return { name, spec: option.spec, bytes: option.bytes, relativeError: m.relativeError, predictedLoss: option.loss, sensitivity: sensitivity.get(name)! };
      });
      const result: BudgetReport = {
        compress: { ...report, output },
        targetBytes,
        targetBitsPerWeight: (8 * targetBytes) / dry.weights,
        candidates,
        sensitivity: options.calibration ? 'calibrated' : 'data-free',
        plan: planned,
        tries: attempt,
        seconds: 0,
      };
      if (options.calibration) {
        stage('measuring KL on the calibration text');
        result.predictedKl = planned.reduce((a, p) => a + p.predictedLoss, 0);
        const r = await evaluate(file, options.calibration, { against: input, ctx: options.calibrationCtx ?? 256, chunks: options.calibrationChunks, threads: options.threads, signal: options.signal });
        result.measured = { klMean: r.kl!.mean, top1Agreement: r.top1Agreement!, scored: r.scored };
      }
      await rename(file, output);
      result.seconds = (performance.now() - t0) / 1000;
      return result;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One option per stored spec (a candidate a matrix cannot take falls back to another spec). */
function dedupe(curve: Measured[]): Measured[] {
  const seen = new Map<string, Measured>();
  for (const m of curve) if (!seen.has(m.spec)) seen.set(m.spec, m);
  return [...seen.values()];
}

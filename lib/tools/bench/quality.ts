// `tensorzip bench quality`: what each method costs a trained model, against round-to-nearest at
// the same bits (docs/METHODS.md, "Quality on the reference model"). Every row compresses the
// shipped model (models/kjv-llama) and measures the container against the original with
// `eval --against` on the held-out eval text: KL divergence of the next-token distributions,
// top-1 agreement and perplexity, with the container's overall bits/weight. Next to each row: the
// rtn ladder's best row that uses no more bits. Then the bit budgets (`compress --target-size`
// at the size of uniform rtn:4, rtn:3 and rtn:2:g32 containers), planned on the calibration text,
// never on the text they are measured on.
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compressToBudget } from '../../budget/plan';
import { DEFAULT_CANDIDATES } from '../../budget/candidates';
import { SpecError } from '../../core/errors';
import { table } from '../../core/format';
import { defaultThreads } from '../../core/threads';
import { writeImportance } from '../../eval/imatrix';
import { evaluate } from '../../eval/perplexity';
import { parseSpec } from '../../methods/registry';
import { compress, type CompressReport } from '../../pipeline/compress';
import { REFERENCE_CALIBRATION_TEXT, REFERENCE_CTX, REFERENCE_EVAL_TEXT, REFERENCE_MODEL } from '../reference-model';

/** Uniform round-to-nearest at every width and a few group sizes: the yardstick. */
export const RTN_LADDER = ['rtn:2:g16', 'rtn:2:g32', 'rtn:2:g64', 'rtn:3:g128', 'rtn:3:g64', 'rtn:3:g32', 'rtn:4:g128', 'rtn:4:g32', 'rtn:5', 'rtn:6', 'rtn:8'];
/** The other rows: each method with and without the rotation; `+imatrix`: with the importance
 * matrix of the calibration text. */
export const QUALITY_METHODS = [
  'rtn:4:rot', 'rtn:4 +imatrix', 'rtn:4:rot +imatrix',
  'rtn:3:rot', 'rtn:3 +imatrix', 'rtn:3:rot +imatrix',
  'rtn:2:g32:rot', 'rtn:2:g32 +imatrix', 'rtn:2:g32:rot +imatrix',
  'ternary', 'ternary:rot', 'ternary:opt +imatrix', 'ternary:opt:rot +imatrix',
  'seedlm:4', 'seedlm:4:rot', 'seedlm:3', 'seedlm:3:rot',
  'vptq:4', 'vptq:4:rot', 'vptq:3', 'vptq:3:rot', 'vptq:2', 'vptq:2:rot', 'vptq:2 +imatrix', 'vptq:2:rot +imatrix',
];
/** The bit budgets: at the container size of a uniform rtn row (`--target-size`), planned with
 * the calibration text, data-free, and with the importance matrix too; and at round bits/weight
 * (`--target-bpw`), each compared with the uniform rtn row named (which has more bytes). */
export interface QualityBudget {
  /** The uniform rtn row (of the ladder) it is compared with, and sized as unless bitsPerWeight. */
  versus: string;
  bitsPerWeight?: number;
  sensitivity: 'calibrated' | 'data-free' | 'calibrated +imatrix';
}
export const BUDGETS: QualityBudget[] = [
  ...['rtn:4:g32', 'rtn:3:g32', 'rtn:2:g32'].flatMap((versus) => (['calibrated', 'data-free', 'calibrated +imatrix'] as const).map((sensitivity) => ({ versus, sensitivity }))),
  { versus: 'rtn:4:g32', bitsPerWeight: 4, sensitivity: 'calibrated' },
  { versus: 'rtn:3:g32', bitsPerWeight: 3, sensitivity: 'calibrated' },
  { versus: 'rtn:2:g32', bitsPerWeight: 2, sensitivity: 'calibrated' },
];

export interface QualityOptions {
  model?: string;
  text?: string;
  calibration?: string;
  ctx?: number;
  methods?: string[];
  /** The rtn rows (default RTN_LADDER; the budgets need rtn:4:g32, rtn:3:g32 and rtn:2:g32 among them). */
  ladder?: string[];
  /** The bit budgets to run (default BUDGETS; [] for none). */
  budgets?: QualityBudget[];
  threads?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface QualityRow {
  /** The method spec (with ` +imatrix` when the importance matrix was used), or the budget's name. */
  label: string;
  kind: 'rtn' | 'method' | 'budget';
  containerBytes: number;
  bitsPerWeight: number;
  klMean: number;
  klP99: number;
  top1Agreement: number;
  perplexity: number;
  seconds: number;
  /** Budget rows: the plan's methods, and the KL it predicted and then measured on the calibration text. */
  plan?: string;
  predictedKl?: number;
  calibrationKl?: number;
  /** Method rows: the rtn ladder's row with the most bits/weight not above this row's; budget
   * rows: the uniform rtn row the budget is set against. */
  rtn?: { label: string; bitsPerWeight: number; klMean: number; top1Agreement: number };
}

export interface QualityResult {
  model: string;
  text: string;
  calibration: string;
  ctx: number;
  scored: number;
  originalPerplexity: number;
  threads: number;
  rows: QualityRow[];
  seconds: number;
}

export async function runQuality(options: QualityOptions = {}): Promise<QualityResult> {
  const t0 = performance.now();
  const model = options.model ?? REFERENCE_MODEL;
  const text = options.text ?? REFERENCE_EVAL_TEXT;
  const calibration = options.calibration ?? REFERENCE_CALIBRATION_TEXT;
  const ctx = options.ctx ?? REFERENCE_CTX;
  const threads = options.threads ?? defaultThreads();
  const { signal } = options;
  const log = options.log ?? (() => {});
  const methods = options.methods ?? QUALITY_METHODS;
  for (const label of methods) {
    const [spec, ...flags] = label.split(' ').filter(Boolean);
    if (!spec || !parseSpec(spec).method.lossy || flags.some((f) => f !== '+imatrix')) throw new SpecError(`--methods: '${label}' is not a lossy method spec, optionally followed by ' +imatrix'`);
  }
  const ladderLabels = options.ladder ?? RTN_LADDER;
  const budgets = options.budgets ?? BUDGETS;
  for (const { versus } of budgets) if (!ladderLabels.includes(versus)) throw new SpecError(`a budget is compared with ${versus}, which the rtn ladder does not run`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'tensorzip-quality-'));
  try {
    const imatrix = path.join(work, 'imatrix.safetensors');
    if (methods.some((m) => m.includes('+imatrix')) || budgets.some((b) => b.sensitivity.includes('+imatrix')))
      await writeImportance(model, { text: calibration }, imatrix, { ctx, threads, signal });
    let scored = 0, originalPerplexity = NaN;
    const measure = async (label: string, kind: QualityRow['kind'], report: CompressReport, extra: Partial<QualityRow> = {}): Promise<QualityRow> => {
      const r = await evaluate(report.output, { text }, { against: model, ctx, threads, signal });
      scored = r.scored;
      originalPerplexity = r.reference!.perplexity;
      const row: QualityRow = {
        label, kind, containerBytes: report.containerBytes, bitsPerWeight: report.bitsPerWeight,
        klMean: r.kl!.mean, klP99: r.kl!.p99, top1Agreement: r.top1Agreement!, perplexity: r.perplexity, seconds: report.seconds, ...extra,
      };
      log(`${label}: ${row.bitsPerWeight.toFixed(3)} bits/weight, KL ${row.klMean.toFixed(4)}, top-1 ${(100 * row.top1Agreement).toFixed(1)} %`);
      return row;
    };
    const out = path.join(work, 'out.tzip');
    const uniform = async (label: string, kind: QualityRow['kind']) => {
      const [spec, flag] = label.split(' ').filter(Boolean);
      const report = await compress(model, out, { method: spec, importance: flag === '+imatrix' ? imatrix : undefined, threads, signal, force: true });
      return measure(label, kind, report);
    };
    const rows: QualityRow[] = [];
    for (const spec of ladderLabels) rows.push(await uniform(spec, 'rtn'));
    for (const label of methods) rows.push(await uniform(label, 'method'));
    const ladder = rows.filter((r) => r.kind === 'rtn');
    const against = (row: QualityRow, r: QualityRow) => Object.assign(row, { rtn: { label: r.label, bitsPerWeight: r.bitsPerWeight, klMean: r.klMean, top1Agreement: r.top1Agreement } });
    for (const row of rows) {
      if (row.kind !== 'method') continue;
      const best = ladder.filter((r) => r.bitsPerWeight <= row.bitsPerWeight + 1e-9).sort((a, b) => b.bitsPerWeight - a.bitsPerWeight)[0];
      if (best) against(row, best);
    }
    for (const { versus, bitsPerWeight, sensitivity } of budgets) {
      const base = ladder.find((r) => r.label === versus)!;
      const label = bitsPerWeight ? `budget --target-bpw ${bitsPerWeight.toFixed(1)}` : `budget at ${versus}'s size${sensitivity === 'calibrated' ? '' : `, ${sensitivity}`}`;
      const b = await compressToBudget(model, out, {
        target: bitsPerWeight ? { bitsPerWeight } : { bytes: base.containerBytes },
        candidates: DEFAULT_CANDIDATES,
        importance: sensitivity === 'calibrated +imatrix' ? imatrix : undefined,
        calibration: sensitivity === 'data-free' ? undefined : { text: calibration },
        calibrationCtx: ctx,
        threads,
        signal,
        force: true,
      });
      const plan = [...b.plan.reduce((m, p) => m.set(p.spec, (m.get(p.spec) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n}×${s}`).join(' ');
      const row = await measure(label, 'budget', b.compress, { plan, predictedKl: b.predictedKl, calibrationKl: b.measured?.klMean, seconds: b.seconds });
      rows.push(against(row, base));
    }
    return { model, text, calibration, ctx, scored, originalPerplexity, threads, rows, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export function formatQuality(q: QualityResult): string {
  const body = q.rows.map((r) => [
    r.label,
    r.bitsPerWeight.toFixed(3),
    r.klMean.toFixed(4),
    pct(r.top1Agreement),
    r.perplexity.toFixed(3),
    r.rtn ? `${r.rtn.label} (${r.rtn.bitsPerWeight.toFixed(3)})` : '',
    r.rtn ? r.rtn.klMean.toFixed(4) : '',
    r.rtn ? `${r.klMean <= r.rtn.klMean ? '' : '+'}${(100 * (r.klMean / r.rtn.klMean - 1)).toFixed(0)} %` : '',
  ]);
  const lines = [
    `Model ${q.model}; KL, top-1 and perplexity against the original (perplexity ${q.originalPerplexity.toFixed(3)}) over ${q.scored} positions of ${q.text} (ctx ${q.ctx});`,
    `importance matrix and budget plans from ${q.calibration}. ${q.threads} threads, ${q.seconds.toFixed(0)} s.`,
    '',
    table(['method', 'bits/w', 'KL', 'top-1', 'ppl', 'compared with', 'its KL', 'KL vs it'], body),
    '',
    'bits/w: the whole container over every weight (embeddings and lm_head at rtn:8 by the default policy, norms lossless; budgets choose for every matrix).',
    'compared with: for a method, the uniform rtn row with the most bits/weight not above its own; for a budget, the uniform rtn row it is set against',
    '(the same container size, or for --target-bpw a larger one).',
  ];
  const budgets = q.rows.filter((r) => r.kind === 'budget');
  if (budgets.length) {
    lines.push('', 'Plans:');
    for (const b of budgets) lines.push(`  ${b.label}: ${b.plan}${b.predictedKl !== undefined ? `; KL on the calibration text predicted ${b.predictedKl.toFixed(4)}, measured ${b.calibrationKl!.toFixed(4)}` : ''}`);
  }
  return lines.join('\n');
}

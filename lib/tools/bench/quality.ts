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
/** Budgets at the size of these uniform rtn containers. */
export const BUDGET_AT = ['rtn:4:g32', 'rtn:3:g32', 'rtn:2:g32'];

export interface QualityOptions {
  model?: string;
  text?: string;
  calibration?: string;
  ctx?: number;
  methods?: string[];
  /** The rtn rows (default RTN_LADDER; the budgets need rtn:4:g32, rtn:3:g32 and rtn:2:g32 among them). */
  ladder?: string[];
  /** Run the bit budgets (default true). */
  budgets?: boolean;
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
  /** Budget rows: the plan's methods, and the KL it predicted on the calibration text. */
  plan?: string;
  predictedKl?: number;
  /** The rtn ladder's row with the most bits/weight not above this row's. */
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
  const work = await mkdtemp(path.join(os.tmpdir(), 'tensorzip-quality-'));
  try {
    const imatrix = path.join(work, 'imatrix.safetensors');
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
    for (const spec of options.ladder ?? RTN_LADDER) rows.push(await uniform(spec, 'rtn'));
    for (const label of methods) rows.push(await uniform(label, 'method'));
    if (options.budgets ?? true)
      for (const at of BUDGET_AT) {
        const size = rows.find((r) => r.label === at)?.containerBytes;
        if (size === undefined) throw new Error(`the budgets are set at the size of ${at}, which the ladder does not run`);
        for (const calibrated of [true, false]) {
          const label = `budget at ${at}'s size${calibrated ? '' : ', data-free'}`;
          const b = await compressToBudget(model, out, {
            target: { bytes: size },
            candidates: DEFAULT_CANDIDATES,
            importance: imatrix,
            calibration: calibrated ? { text: calibration } : undefined,
            calibrationCtx: ctx,
            threads,
            signal,
            force: true,
          });
          const plan = [...b.plan.reduce((m, p) => m.set(p.spec, (m.get(p.spec) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n}×${s}`).join(' ');
          rows.push(await measure(label, 'budget', b.compress, { plan, predictedKl: b.predictedKl, seconds: b.seconds }));
        }
      }
    const ladder = rows.filter((r) => r.kind === 'rtn');
    for (const row of rows) {
      if (row.kind === 'rtn') continue;
      const best = ladder.filter((r) => r.bitsPerWeight <= row.bitsPerWeight + 1e-9).sort((a, b) => b.bitsPerWeight - a.bitsPerWeight)[0];
      if (best) row.rtn = { label: best.label, bitsPerWeight: best.bitsPerWeight, klMean: best.klMean, top1Agreement: best.top1Agreement };
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
    table(['method', 'bits/w', 'KL', 'top-1', 'ppl', 'rtn at ≤ bits/w', 'its KL', 'KL vs rtn'], body),
    '',
    'bits/w: the whole container over every weight (embeddings and lm_head at rtn:8 by the default policy, norms lossless; budgets choose for every matrix).',
  ];
  const budgets = q.rows.filter((r) => r.kind === 'budget');
  if (budgets.length) {
    lines.push('', 'Plans:');
    for (const b of budgets) lines.push(`  ${b.label}: ${b.plan}${b.predictedKl !== undefined ? `; predicted KL ${b.predictedKl.toFixed(4)} on the calibration text` : ''}`);
  }
  return lines.join('\n');
}

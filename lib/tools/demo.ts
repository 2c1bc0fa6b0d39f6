// `tensorzip demo` / `npm start`: runs every method preset on the trained model that ships with
// tensorzip (models/kjv-llama, lib/tools/reference-model.ts) and prints one comparison table,
// every figure measured on the files (ratio: original file bytes / container bytes; errors: the
// decoded weights against the originals; KL and top-1: the container's next-token predictions
// against the original's on held-out text). SeedLM's exhaustive search is too slow for every
// matrix on a CPU, so it runs on two of layer 0's matrices and its row is extrapolated
// (lib/tools/runs.ts), which the table says.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../backend';
import { compress } from '../pipeline/compress';
import { evaluate } from '../eval/perplexity';
import { LlamaModel } from '../model/llama';
import { describeShape } from './generate';
import { formatBytes, table } from '../core/format';
import { DESTRUCTIVE_ERROR } from '../pipeline/metrics';
import { extrapolationNote, runMethods, SUBSET, type RunSummary } from './runs';
import { defaultThreads } from '../core/threads';
import { DEMO_METHODS } from './presets';
import { REFERENCE_CTX, REFERENCE_EVAL_TEXT, REFERENCE_MODEL } from './reference-model';

export interface DemoOptions {
  /** A Llama-family model folder and a text to measure KL on (default: the shipped model and its
   * held-out eval.txt). */
  model?: string;
  text?: string;
  methods?: string[];
  threads?: number;
  signal?: AbortSignal;
  /** Called before each method runs. */
  onStep?: (index: number, total: number, spec: string) => void;
}

/** How far a container's model departs from the original's next-token distributions. */
export interface DemoQuality {
  klMean: number;
  klP99: number;
  top1Agreement: number;
  scored: number;
}

export interface DemoResult {
  backend: ReturnType<typeof backendInfo>;
  model: string;
  /** config.json's shape, as `describe` words it. */
  shape: string;
  parameters: number;
  text: string;
  /** The original's perplexity on the text. */
  perplexity: number;
  threads: number;
  subset: string;
  rows: Array<RunSummary & { quality?: DemoQuality }>;
  seconds: number;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = process.hrtime.bigint();
  const threads = options.threads ?? defaultThreads();
  const methods = options.methods ?? DEMO_METHODS;
  const model = options.model ?? REFERENCE_MODEL;
  const text = options.text ?? REFERENCE_EVAL_TEXT;
  // Refused now rather than after the first compress: the containers must carry the
  // configuration and tokenizer that evaluation needs, which only a model folder has.
  if (!(await stat(model)).isDirectory()) throw new Error(`${model}: the demo takes a model folder (config.json, tokenizer.json and the weights), not a file`);
  const probe = await LlamaModel.open(model);
  const { config } = probe;
  await probe.close();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tensorzip-demo-'));
  try {
    const out = path.join(dir, 'out.tzip');
    let perplexity = NaN;
    const runs = await runMethods(model, dir, methods, async (input, spec) => {
      const report = await compress(input, out, { method: spec, threads, signal: options.signal });
      // Whole-model containers only: a subset container is not a model.
      let quality: DemoQuality | undefined;
      if (input === model) {
        const r = await evaluate(out, { text }, { ctx: REFERENCE_CTX, against: model, threads, signal: options.signal });
        perplexity = r.reference!.perplexity;
        quality = { klMean: r.kl!.mean, klP99: r.kl!.p99, top1Agreement: r.top1Agreement!, scored: r.scored };
      }
      await rm(out, { force: true });
      return { report, quality };
    }, options.onStep);
    const rows = runs.map((r) => ({ ...r.summary, quality: r.summary.extrapolated ? undefined : r.runs[0].quality }));
    // A spec's last run is over the whole model (a subset run comes before its reference run).
    const parameters = runs[0]?.runs.at(-1)?.report.weights ?? 0;
    return { backend: backendInfo(), model, shape: describeShape(config), parameters, text, perplexity, threads, subset: SUBSET.what, rows, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatDemo(d: DemoResult): string {
  const cuda = 'gpus' in d.backend.cuda ? d.backend.cuda.gpus.map((g) => `${g.name} (sm ${g.computeCapability})`).join(', ') : `unavailable: ${d.backend.cuda.unavailable}`;
  const original = d.rows[0]?.originalBytes ?? 0;
  const body = d.rows.map((r) => {
    const est = r.extrapolated ? '≈' : '';
    return [
      r.spec + (r.extrapolated ? ' *' : ''),
      est + r.bitsPerWeight.toFixed(2),
      est + r.ratio.toFixed(2) + 'x',
      `${r.methodBitsPerWeight.toFixed(2)}`,
      r.meanRelativeError === 0 ? 'exact' : r.meanRelativeError.toFixed(4),
      Number.isFinite(r.meanSnrDb) ? r.meanSnrDb.toFixed(1) : 'inf',
      r.quality ? r.quality.klMean.toFixed(4) : '-',
      r.quality ? `${(100 * r.quality.top1Agreement).toFixed(1)} %` : '-',
      `${est}${r.seconds.toFixed(1)} s`,
    ];
  });
  const lines = [
    `CPU kernels: ${d.backend.cpu} (${d.backend.cpuReason}), ${d.threads} threads`,
    `CUDA:        ${cuda}`,
    '',
    `Model ${d.model}: ${d.parameters.toLocaleString('en-US')} parameters, ${formatBytes(original)} (${d.shape}); ` +
      `perplexity ${d.perplexity.toFixed(3)} on ${path.basename(d.text)}`,
    '',
    table(['method', 'bits/w', 'ratio', 'bits/w (method)', 'rel. error', 'SNR dB', 'KL', 'top-1', 'time'], body),
    '',
    'bits/w and ratio: the whole container (every tensor, config files) over all weights and against the original file bytes.',
    "bits/w (method), rel. error, SNR: the tensors stored with the method (the weight matrices; the default policy keeps embeddings",
    'and lm_head at rtn:8 and 1-D tensors lossless); errors are means over those tensors of their decoded weights against the originals.',
  ];
  const q = d.rows.find((r) => r.quality)?.quality;
  if (q)
    lines.push(
      `KL and top-1: mean KL divergence (nats) of the container's next-token distributions from the original's, and how often their most`,
      `likely tokens agree, over ${q.scored} scored positions of ${d.text} in chunks of ${REFERENCE_CTX} tokens (tensorzip eval --against).`,
      'Extrapolated rows have no KL: their subset container is not a whole model. `tensorzip bench quality` compares every method with rtn at the same bits.',
    );
  lines.push(...extrapolationNote(d.rows, d.threads));
  if (d.rows.some((r) => r.meanRelativeError > DESTRUCTIVE_ERROR))
    lines.push(`Relative errors above ${DESTRUCTIVE_ERROR} (ternary, 2-bit) destroy what a model not trained for that setting learned.`);
  lines.push(`Total ${d.seconds.toFixed(1)} s.`);
  return lines.join('\n');
}

// `tensorzip demo` / `npm start`: generates a small Llama-shaped checkpoint in a temp dir, runs
// every method preset on it and prints one comparison table, every figure measured on the
// files (ratio: original file bytes / container bytes; errors: the decoded weights against the
// originals). SeedLM's exhaustive search is too slow for every matrix on a CPU, so it runs on
// two of layer 0's matrices and its row is extrapolated (lib/tools/runs.ts), which the table says.
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../backend';
import { compress } from '../pipeline/compress';
import { evaluate } from '../eval/perplexity';
import { writeSeededTokens } from '../eval/tokens';
import { describeShape, generateCheckpoint, type ModelShape } from './generate';
import { formatBytes, table } from '../core/format';
import { DESTRUCTIVE_ERROR } from '../pipeline/metrics';
import { extrapolationNote, runMethods, SUBSET, type RunSummary } from './runs';
import { defaultThreads } from '../core/threads';

/** About 21M parameters (42 MB of bf16): small enough for every preset in about a minute on 2 cores. */
export const DEMO_SHAPE: ModelShape = { hidden: 512, intermediate: 1408, layers: 3, heads: 8, kvHeads: 2, vocab: 12288 };
import { DEMO_METHODS } from './presets';

export interface DemoOptions {
  shape?: Partial<ModelShape>;
  methods?: string[];
  seed?: number;
  threads?: number;
  signal?: AbortSignal;
  /** Called before each method runs. */
  onStep?: (index: number, total: number, spec: string) => void;
}

/** The KL column: chunks × ctx seeded token ids through the original and each container. */
const KL_CHUNKS = 4, KL_CTX = 256;

/** How far a container's model departs from the original's next-token distributions. */
export interface DemoQuality {
  klMean: number;
  klP99: number;
  top1Agreement: number;
  scored: number;
}

export interface DemoResult {
  backend: ReturnType<typeof backendInfo>;
  shape: ModelShape;
  parameters: number;
  threads: number;
  subset: string;
  rows: Array<RunSummary & { quality?: DemoQuality }>;
  seconds: number;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = process.hrtime.bigint();
  const threads = options.threads ?? defaultThreads();
  const methods = options.methods ?? DEMO_METHODS;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tensorzip-demo-'));
  try {
    const model = await generateCheckpoint(path.join(dir, 'model'), { ...DEMO_SHAPE, ...options.shape, seed: options.seed ?? 1 });
    const out = path.join(dir, 'out.tzip');
    const tokens = path.join(dir, 'tokens.bin');
    await writeSeededTokens(tokens, KL_CHUNKS * KL_CTX, model.shape.vocab, options.seed ?? 1);
    const runs = await runMethods(model.dir, dir, methods, async (input, spec) => {
      const report = await compress(input, out, { method: spec, threads, signal: options.signal });
      // Whole-model containers only: a subset container is not a model.
      const quality = input === model.dir ? await klOf(out, model.dir, tokens, threads, options.signal) : undefined;
      await rm(out, { force: true });
      return { report, quality };
    }, options.onStep);
    const rows = runs.map((r) => ({ ...r.summary, quality: r.summary.extrapolated ? undefined : r.runs[0].quality }));
    return { backend: backendInfo(), shape: model.shape, parameters: model.parameters, threads, subset: SUBSET.what, rows, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function klOf(container: string, original: string, tokens: string, threads: number, signal?: AbortSignal): Promise<DemoQuality> {
  const r = await evaluate(container, { tokens }, { ctx: KL_CTX, chunks: KL_CHUNKS, against: original, threads, signal });
  return { klMean: r.kl!.mean, klP99: r.kl!.p99, top1Agreement: r.top1Agreement!, scored: r.scored };
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
      r.quality ? r.quality.klMean.toExponential(2) : '-',
      r.quality ? `${(100 * r.quality.top1Agreement).toFixed(1)} %` : '-',
      `${est}${r.seconds.toFixed(1)} s`,
    ];
  });
  const lines = [
    `CPU kernels: ${d.backend.cpu} (${d.backend.cpuReason}), ${d.threads} threads`,
    `CUDA:        ${cuda}`,
    '',
    `Generated Llama-shaped checkpoint: ${d.parameters.toLocaleString('en-US')} parameters, bf16, ${formatBytes(original)} ` +
      `(${describeShape(d.shape)}; generated weights, not a trained model)`,
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
      `likely tokens agree, over ${q.scored} scored positions of ${KL_CHUNKS} chunks of ${KL_CTX} seeded random token ids (tensorzip eval --against).`,
      'The model is generated, not trained: its predictions are close to uniform, so these show how methods rank, not what a trained model loses.',
      'Extrapolated rows have no KL: their subset container is not a whole model.',
    );
  lines.push(...extrapolationNote(d.rows, d.threads));
  if (d.rows.some((r) => r.meanRelativeError > DESTRUCTIVE_ERROR))
    lines.push(`Relative errors above ${DESTRUCTIVE_ERROR} (ternary, 2-bit) destroy what a model not trained for that setting learned.`);
  lines.push(`Total ${d.seconds.toFixed(1)} s.`);
  return lines.join('\n');
}

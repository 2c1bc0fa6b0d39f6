// `tensorzip demo` / `npm start`: generates a small Llama-shaped checkpoint in a temp dir, runs
// every method preset on it and prints one comparison table, every figure measured on the
// files (ratio: original file bytes / container bytes; errors: the decoded weights against the
// originals). SeedLM's exhaustive search is too slow for every matrix on a CPU, so it runs on
// two of layer 0's matrices and its row is extrapolated (lib/runs.ts), which the table says.
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from './backend';
import { compress } from './compress';
import { describeShape, generateCheckpoint, type ModelShape } from './generate';
import { DESTRUCTIVE_ERROR, formatBytes, table } from './report';
import { extrapolationNote, runMethods, SUBSET, type RunSummary } from './runs';
import { defaultThreads } from './threads';

/** About 21M parameters (42 MB of bf16): small enough for every preset in about a minute on 2 cores. */
export const DEMO_SHAPE: ModelShape = { hidden: 512, intermediate: 1408, layers: 3, heads: 8, kvHeads: 2, vocab: 12288 };
export const DEMO_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'rtn:2:g32', 'ternary', 'ternary:opt', 'seedlm:4', 'seedlm:3', 'vptq:4', 'vptq:3', 'vptq:2'];

export interface DemoOptions {
  shape?: Partial<ModelShape>;
  methods?: string[];
  seed?: number;
  threads?: number;
  signal?: AbortSignal;
  /** Called before each method runs. */
  onStep?: (index: number, total: number, spec: string) => void;
}

export interface DemoResult {
  backend: ReturnType<typeof backendInfo>;
  shape: ModelShape;
  parameters: number;
  threads: number;
  subset: string;
  rows: RunSummary[];
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
    const runs = await runMethods(model.dir, dir, methods, async (input, spec) => {
      const report = await compress(input, out, { method: spec, threads, signal: options.signal });
      await rm(out, { force: true });
      return { report };
    }, options.onStep);
    const rows = runs.map((r) => r.summary);
    return { backend: backendInfo(), shape: model.shape, parameters: model.parameters, threads, subset: SUBSET.what, rows, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
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
    table(['method', 'bits/w', 'ratio', 'bits/w (method)', 'rel. error', 'SNR dB', 'time'], body),
    '',
    'bits/w and ratio: the whole container (every tensor, config files) over all weights and against the original file bytes.',
    "bits/w (method), rel. error, SNR: the tensors stored with the method (the weight matrices; the default policy keeps embeddings",
    'and lm_head at rtn:8 and 1-D tensors lossless); errors are means over those tensors of their decoded weights against the originals.',
  ];
  lines.push(...extrapolationNote(d.rows, d.threads));
  if (d.rows.some((r) => r.meanRelativeError > DESTRUCTIVE_ERROR))
    lines.push(`Relative errors above ${DESTRUCTIVE_ERROR} (ternary, 2-bit) destroy what a model not trained for that setting learned.`);
  lines.push(`Total ${d.seconds.toFixed(1)} s.`);
  return lines.join('\n');
}

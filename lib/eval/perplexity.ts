// `tensorzip eval`: perplexity over non-overlapping chunks, scoring the second half of each chunk
// (every scored token sees at least ctx/2 tokens of context), as llama.cpp's perplexity tool does;
// with a reference model (--against, the original), also the KL divergence of the evaluated
// model's next-token distribution from the reference's and how often their top tokens agree.
import { runJob } from '../jobs';
import { LlamaModel } from '../model/llama';
import { native, type LlamaHeadWeights } from '../native';
import { defaultThreads } from '../core/threads';
import type { Progress } from '../core/progress';
import { chunkGroups, chunkTokens, loadTokens, type ChunkOptions, type TokenInput } from './chunks';

export interface EvalOptions extends ChunkOptions {
  /** The original model to compare with (KL divergence, top-1 agreement). */
  against?: string;
  /** Tensors of the evaluated model to replace with these values (not the reference's). */
  replace?: ReadonlyMap<string, Float32Array>;
  threads?: number;
  signal?: AbortSignal;
  /** Steps of the forward passes (unit 'steps': a layer of a group of chunks, its scoring). */
  onProgress?: (p: Progress) => void;
}

export interface PerplexityFigures {
  model: string;
  perplexity: number;
  /** Standard error of the perplexity (from the spread of the per-token log-likelihoods). */
  perplexityError: number;
  /** Mean negative log-likelihood per scored token (nats). */
  meanNll: number;
}

export interface EvalResult extends PerplexityFigures {
  tokens: string;
  ctx: number;
  chunks: number;
  /** Tokens scored: ctx/2 − 1 per chunk. */
  scored: number;
  /** With --against: the reference model's figures and how the evaluated one departs from them. */
  reference?: PerplexityFigures;
  /** KL(P_reference ‖ P_model) per scored token, in nats. */
  kl?: { mean: number; median: number; p99: number; max: number };
  /** Share of scored tokens where both models' most likely token is the same. */
  top1Agreement?: number;
  seconds: number;
}

function figures(model: string, nll: Float64Array): PerplexityFigures {
  let sum = 0, sq = 0;
  for (const x of nll) (sum += x), (sq += x * x);
  const mean = sum / nll.length;
  const se = nll.length > 1 ? Math.sqrt(Math.max(0, sq / nll.length - mean * mean) / (nll.length - 1)) : 0;
  const perplexity = Math.exp(mean);
  return { model, perplexity, perplexityError: perplexity * se, meanNll: mean };
}

/** The q-quantile (nearest rank) of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export async function evaluate(modelPath: string, input: TokenInput, options: EvalOptions = {}): Promise<EvalResult> {
  const start = performance.now();
  const threads = options.threads ?? defaultThreads();
  const io = { threads, signal: options.signal };
  const model = await LlamaModel.open(modelPath, options.replace);
  let reference: LlamaModel | undefined;
  try {
    if (options.against) {
      reference = await LlamaModel.open(options.against);
      const a = model.config, b = reference.config;
      if (a.vocab !== b.vocab || a.hidden !== b.hidden || a.eps !== b.eps)
        throw new Error(`${options.against} (vocab ${b.vocab}, hidden ${b.hidden}) is not the same model as ${modelPath} (vocab ${a.vocab}, hidden ${a.hidden})`);
    }
    const stream = await loadTokens(input, model.weights, model.config, options.signal);
    const chunks = chunkTokens(stream, options);
    const ctx = chunks[0].length, first = ctx / 2 | 0, perChunk = ctx - 1 - first;
    const groups = chunkGroups(chunks, model.config);
    const models = reference ? [reference, model] : [model];
    const steps = groups.length * (models.reduce((a, m) => a + m.config.layers + 1, 0) + 1);
    const step = (done: number, item: string) => options.onProgress?.({ done, total: steps, unit: 'steps', item });
    let done = 0;
    const heads = new Map<LlamaModel, Omit<LlamaHeadWeights, 'hidden'>>();
    const nll = [new Float64Array(chunks.length * perChunk), new Float64Array(reference ? chunks.length * perChunk : 0)];
    const kl = new Float64Array(reference ? chunks.length * perChunk : 0);
    let agree = 0, offset = 0;
    for (const [g, group] of groups.entries()) {
      const where = groups.length > 1 ? ` (chunks ${offset / perChunk + 1}-${offset / perChunk + group.length} of ${chunks.length})` : '';
      const hidden: Float32Array[] = [];
      for (const m of models) {
        const name = m === reference ? 'reference' : 'model';
        hidden.push(await m.forward(group, { ...io, onStep: (d, t) => step(done + d, `${name}: layer ${Math.min(d, t - 1)}/${t - 1}${where}`) }));
        done += m.config.layers + 1;
        if (!heads.has(m)) heads.set(m, await m.head(io));
      }
      step(done, `scoring${where}`);
      const rows = new Uint32Array(group.length * perChunk), targets = new Uint32Array(rows.length);
      group.forEach((chunk, c) => {
        for (let j = 0; j < perChunk; j++) (rows[c * perChunk + j] = c * ctx + first + j), (targets[c * perChunk + j] = chunk[first + j + 1]);
      });
      const head = (i: number): LlamaHeadWeights => ({ hidden: hidden[i], ...heads.get(models[i])! });
      const r = await runJob((p) => native.llamaScoreAsync(head(0), reference ? head(1) : null, rows, targets, { eps: models[0].config.eps, threads }, p), { signal: options.signal });
      nll[0].set(r.nll[0], offset);
      if (reference) {
        nll[1].set(r.nll[1], offset);
        kl.set(r.kl!, offset);
        for (let i = 0; i < rows.length; i++) agree += r.top[0][i] === r.top[1][i] ? 1 : 0;
      }
      offset += rows.length;
      done += 1;
      step(done, g + 1 < groups.length ? 'next group' : 'done');
    }
    const own = figures(modelPath, reference ? nll[1] : nll[0]);
    const result: EvalResult = { ...own, tokens: stream.source, ctx, chunks: chunks.length, scored: offset, seconds: 0 };
    if (reference) {
      result.reference = figures(options.against!, nll[0]);
      const sorted = kl.slice().sort();
      let sum = 0;
      for (const x of kl) sum += x;
      result.kl = { mean: sum / kl.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] };
      result.top1Agreement = agree / offset;
    }
    result.seconds = (performance.now() - start) / 1000;
    return result;
  } finally {
    await model.close();
    await reference?.close();
  }
}

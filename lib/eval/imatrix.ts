// `tensorzip imatrix`: the importance matrix of a model on a text, per linear layer the mean
// squared input activation of each input column, E[x_c²] over every token of every chunk (the
// diagonal of the layer's input second-moment matrix, which llama.cpp's importance matrices
// and VPTQ-style Hessian weighting use). Written as safetensors in the form --importance reads:
// one F32 [in_features] vector per weight tensor, named like it.
import { checkOutput } from '../io/output-path';
import { SafetensorsWriter, type TensorSpec } from '../io/safetensors-writer';
import { runJob } from '../jobs';
import { bytesOf } from '../methods/f32';
import { LlamaModel } from '../model/llama';
import { native } from '../native';
import { defaultThreads } from '../core/threads';
import type { Progress } from '../core/progress';
import { chunkGroups, chunkTokens, loadTokens, type ChunkOptions, type TokenInput } from './chunks';

export interface ImatrixOptions extends ChunkOptions {
  threads?: number;
  /** Replace an existing output file. */
  force?: boolean;
  /** Lines for the user that are not errors (leftovers of interrupted runs removed). */
  onNote?: (line: string) => void;
  signal?: AbortSignal;
  /** Steps of the forward passes (unit 'steps'). */
  onProgress?: (p: Progress) => void;
}

export interface ImatrixResult {
  output: string;
  tokens: string;
  ctx: number;
  chunks: number;
  /** Tokens averaged over. */
  activations: number;
  /** Weight tensors with an importance vector. */
  entries: number;
  seconds: number;
}

/** Mean squared inputs per weight tensor name (q/k/v share theirs, as do gate/up). */
export async function computeImportance(
  model: LlamaModel, input: TokenInput, options: ImatrixOptions = {},
): Promise<{ importance: Map<string, Float32Array>; tokens: string; chunks: number; ctx: number; activations: number }> {
  const c = model.config;
  const threads = options.threads ?? defaultThreads();
  const stream = await loadTokens(input, model.weights, c, options.signal);
  const chunks = chunkTokens(stream, options);
  const groups = chunkGroups(chunks, c);
  const stats = model.newStats();
  const headIn = new Float64Array(c.hidden);
  const norm = c.tied ? undefined : await model.weights.read('model.norm.weight');
  const steps = groups.length * (c.layers + 1);
  for (const [g, group] of groups.entries()) {
    const hidden = await model.forward(group, {
      threads, signal: options.signal, stats,
      onStep: (d, t) => options.onProgress?.({ done: g * t + d, total: steps, unit: 'steps', item: `layer ${Math.min(d, t - 1)}/${t - 1}` }),
    });
    if (norm) await runJob(() => native.llamaNormSquaresAsync(hidden, norm, c.eps, headIn), { signal: options.signal });
  }
  const activations = chunks.length * chunks[0].length;
  const mean = (sums: Float64Array) => Float32Array.from(sums, (s) => s / activations);
  const importance = new Map<string, Float32Array>();
  stats.forEach((s, l) => {
    const p = `model.layers.${l}.`;
    const attn = mean(s.attnIn), mlp = mean(s.mlpIn);
    for (const t of ['q_proj', 'k_proj', 'v_proj']) importance.set(`${p}self_attn.${t}.weight`, attn);
    importance.set(`${p}self_attn.o_proj.weight`, mean(s.oIn));
    importance.set(`${p}mlp.gate_proj.weight`, mlp);
    importance.set(`${p}mlp.up_proj.weight`, mlp);
    importance.set(`${p}mlp.down_proj.weight`, mean(s.downIn));
  });
  if (norm) importance.set('lm_head.weight', mean(headIn));
  return { importance, tokens: stream.source, chunks: chunks.length, ctx: chunks[0].length, activations };
}

/** Computes the importance matrix and writes it to `output` (atomically: nothing on failure). */
export async function writeImportance(modelPath: string, input: TokenInput, output: string, options: ImatrixOptions = {}): Promise<ImatrixResult> {
  const start = performance.now();
  // Before hours of forward passes: the output must be writable and not replace anything unasked.
  const inputs = [modelPath, ...(input.text ? [input.text] : []), ...(input.tokens ? [input.tokens] : [])];
  for (const line of (await checkOutput(output, { kind: 'file', inputs, force: options.force })).notes) options.onNote?.(line);
  const model = await LlamaModel.open(modelPath);
  try {
    const r = await computeImportance(model, input, options);
    const specs: TensorSpec[] = [...r.importance].map(([name, v]) => ({ name, dtype: 'F32', shape: [v.length] }));
    const writer = await SafetensorsWriter.create(output, specs, {
      format: 'tensorzip-imatrix',
      model: modelPath,
      tokens: r.tokens,
      ctx: String(r.ctx),
      chunks: String(r.chunks),
      activations: String(r.activations),
    });
    try {
      for (const v of r.importance.values()) await writer.write(bytesOf(v));
      await writer.finish();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return { output, tokens: r.tokens, ctx: r.ctx, chunks: r.chunks, activations: r.activations, entries: specs.length, seconds: (performance.now() - start) / 1000 };
  } finally {
    await model.close();
  }
}

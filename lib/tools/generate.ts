// Writes Llama-shaped Hugging Face checkpoints with the statistics of trained weights, so tests,
// the demo and benchmarks never download a model: heavy-tailed entries, a spread of per-row
// scales, a few outlier input columns, norms near 1. Deterministic from the seed; written
// streaming, so any size from ~100 KB to many GB works in bounded memory.
import { rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { numelOf, type Dtype } from '../io/dtypes';
import { checkOutput, makeDirs, writeFailure } from '../io/output-path';
import { SafetensorsWriter, type TensorSpec } from '../io/safetensors-writer';
import { byteLevelTokenizer, TOKENIZER_SIZE } from './generate-tokenizer';
import { bytesOf, fromF32 } from '../methods/f32';
import { SpecError } from '../core/errors';
import { Rng } from '../core/random';

export interface ModelShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

export interface GenerateOptions extends Partial<ModelShape> {
  dtype?: 'BF16' | 'F16' | 'F32';
  /** Number of safetensors shards (with model.safetensors.index.json when > 1). */
  shards?: number;
  seed?: number;
  /** Aim for about this many bytes of weights (overrides the shape defaults). */
  targetBytes?: number;
  /** Replace files of an earlier checkpoint in `dir` (other files there are left alone). */
  force?: boolean;
  /** Lines for the user that are not errors (leftovers of interrupted runs removed). */
  onNote?: (line: string) => void;
  signal?: AbortSignal;
}

export interface GeneratedModel {
  dir: string;
  shape: ModelShape;
  parameters: number;
  files: string[];
  /** Why there is no tokenizer.json, when there is none. */
  noTokenizer?: string;
}

const DTYPE_BYTES = { BF16: 2, F16: 2, F32: 4 } as const;

export function tensorList(s: ModelShape): Array<{ name: string; shape: number[] }> {
  const headDim = s.hidden / s.heads;
  const out: Array<{ name: string; shape: number[] }> = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden] }];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}self_attn.q_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}self_attn.k_proj.weight`, shape: [s.kvHeads * headDim, s.hidden] },
      { name: `${p}self_attn.v_proj.weight`, shape: [s.kvHeads * headDim, s.hidden] },
      { name: `${p}self_attn.o_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}post_attention_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}mlp.gate_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.up_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.down_proj.weight`, shape: [s.hidden, s.intermediate] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [s.hidden] }, { name: 'lm_head.weight', shape: [s.vocab, s.hidden] });
  return out;
}

/** "hidden 512, MLP 1408, 3 layers, 8/2 heads, vocab 12288", for reports. */
export function describeShape(s: ModelShape): string {
  return `hidden ${s.hidden}, MLP ${s.intermediate}, ${s.layers} layers, ${s.heads}/${s.kvHeads} heads, vocab ${s.vocab}`;
}

/** From one layer's count, not the tensor list: a size check must not build millions of entries. */
export function parameterCount(s: ModelShape): number {
  const count = (layers: number) => tensorList({ ...s, layers }).reduce((a, t) => a + numelOf(t.shape), 0);
  const fixed = count(0);
  return fixed + s.layers * (count(1) - fixed);
}

/** A shape whose weights take about `bytes` at `bytesPerWeight`: dimensions by scale, then layers. */
export function shapeForSize(bytes: number, bytesPerWeight: number): ModelShape {
  const params = bytes / bytesPerWeight;
  const base: ModelShape =
    params < 4e6 ? { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 256 }
    : params < 2e8 ? { hidden: 512, intermediate: 1408, layers: 1, heads: 8, kvHeads: 2, vocab: 8192 }
    : { hidden: 2048, intermediate: 5632, layers: 1, heads: 16, kvHeads: 4, vocab: 32000 };
  const fixed = parameterCount({ ...base, layers: 0 });
  const perLayer = parameterCount({ ...base, layers: 1 }) - fixed;
  return { ...base, layers: Math.max(1, Math.round((params - fixed) / perLayer)) };
}

/** Fills `out` with rows [row0, row0 + rows) of tensor `name` (a deterministic function of the seed). */
function fillRows(name: string, shape: number[], rng: Rng, out: Float32Array, colScale: Float32Array | undefined, rowCount: number) {
  if (shape.length === 1) {
    for (let i = 0; i < out.length; i++) out[i] = 1 + 0.05 * rng.normal(); // RMSNorm gains: near 1
    return;
  }
  const cols = shape[1];
  const sigma = name.includes('embed') || name.includes('lm_head') ? 0.02 : 0.7 / Math.sqrt(cols);
  for (let r = 0; r < rowCount; r++) {
    const rowScale = sigma * Math.exp(0.3 * rng.normal()); // per-output-channel spread
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const tail = rng.uniform() < 0.01 ? 4 : 1; // heavy tails: a 1% component four times wider
      out[base + c] = rowScale * (colScale ? colScale[c] : 1) * tail * rng.normal();
    }
  }
}

export async function generateCheckpoint(dir: string, options: GenerateOptions = {}): Promise<GeneratedModel> {
  const dtype: Dtype = options.dtype ?? 'BF16';
  const bpw = DTYPE_BYTES[options.dtype ?? 'BF16'];
  const defaults: ModelShape = options.targetBytes
    ? shapeForSize(options.targetBytes, bpw)
    : { hidden: 256, intermediate: 704, layers: 2, heads: 4, kvHeads: 2, vocab: 2048 };
  const shape: ModelShape = {
    hidden: options.hidden ?? defaults.hidden,
    intermediate: options.intermediate ?? defaults.intermediate,
    layers: options.layers ?? defaults.layers,
    heads: options.heads ?? defaults.heads,
    kvHeads: options.kvHeads ?? defaults.kvHeads,
    vocab: options.vocab ?? defaults.vocab,
  };
  if (shape.hidden % shape.heads || shape.heads % shape.kvHeads) throw new SpecError(`--hidden (${shape.hidden}) must divide by --heads (${shape.heads}), and --heads by --kv-heads (${shape.kvHeads})`);
  const seed = options.seed ?? 1;
  const shards = Math.max(1, Math.min(options.shards ?? 1, 3 + 9 * shape.layers));
  const fileNames = shards === 1 ? ['model.safetensors'] : Array.from({ length: shards }, (_, k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`);
  const withTokenizer = shape.vocab >= TOKENIZER_SIZE;
  const files = [...fileNames, 'config.json', 'generation_config.json', ...(withTokenizer ? ['tokenizer.json', 'tokenizer_config.json'] : []), ...(shards > 1 ? ['model.safetensors.index.json'] : [])];

  // Every file is checked before any is written (and before the tensor list is built), and a run
  // that fails or is stopped removes the files it wrote: never half a checkpoint.
  const space = { bytes: parameterCount(shape) * bpw + (withTokenizer ? 1 << 20 : 1 << 16), exact: true, what: 'the checkpoint' };
  const note = (c: { notes: string[] }) => c.notes.forEach((line) => options.onNote?.(line));
  // `dir` is made with its missing parents; the first missing one is checked, and removed on failure.
  const isDir = (p: string) => stat(p).then((st) => st.isDirectory(), () => false);
  const created = !(await isDir(dir));
  let top = path.resolve(dir);
  while (created && !(await isDir(path.dirname(top))) && path.dirname(top) !== top) top = path.dirname(top);
  if (created) note(await checkOutput(top === path.resolve(dir) ? dir : top, { kind: 'directory', inputs: [], space }));
  else for (const [i, f] of files.entries()) note(await checkOutput(path.join(dir, f), { kind: 'file', inputs: [], force: options.force, space: i ? undefined : space }));
  if (created) {
    await makeDirs(dir).catch((e) => {
      throw writeFailure(e, dir);
    });
  }

  // Split tensors into shards of about equal bytes, in order.
  const tensors = tensorList(shape);
  const sizes = tensors.map((t) => numelOf(t.shape) * bpw);
  const total = sizes.reduce((a, b) => a + b, 0);
  const groups: number[][] = Array.from({ length: shards }, () => []);
  let acc = 0;
  tensors.forEach((_, i) => {
    groups[Math.min(shards - 1, Math.floor((acc / total) * shards))].push(i);
    acc += sizes[i];
  });
  const written: string[] = [];
  try {
    await writeFiles();
  } catch (e) {
    await Promise.all(written.map((f) => rm(path.join(dir, f), { force: true })));
    if (created) await rm(top, { recursive: true, force: true }); // everything under it was made by this run
    throw e;
  }
  return { dir, shape, parameters: parameterCount(shape), files, ...(withTokenizer ? {} : { noTokenizer: `the vocabulary (${shape.vocab}) is smaller than the byte-level tokenizer's ${TOKENIZER_SIZE} tokens` }) };

  async function write(name: string, text: string) {
    await writeFile(path.join(dir, name), text).catch((e) => {
      throw writeFailure(e, path.join(dir, name));
    });
    written.push(name);
  }

  async function writeFiles() {
    const weightMap: Record<string, string> = {};
    for (const [k, group] of groups.entries()) {
      const specs: TensorSpec[] = group.map((i) => ({ name: tensors[i].name, dtype, shape: tensors[i].shape }));
      const writer = await SafetensorsWriter.create(path.join(dir, fileNames[k]), specs, { format: 'pt' });
      try {
        for (const i of group) {
          const { name, shape: s } = tensors[i];
          weightMap[name] = fileNames[k];
          const rng = new Rng(seed * 1000003 + i);
          const cols = s.length > 1 ? s[1] : s[0];
          let colScale: Float32Array | undefined;
          if (s.length > 1) {
            colScale = new Float32Array(cols).fill(1);
            for (let c = 0; c < cols; c++) if (rng.uniform() < 0.002) colScale[c] = 6; // outlier input channels
          }
          const rowsPerChunk = s.length > 1 ? Math.max(1, Math.floor((1 << 20) / cols)) : 1;
          const rows = s.length > 1 ? s[0] : 1;
          for (let r = 0; r < rows; r += rowsPerChunk) {
            options.signal?.throwIfAborted();
            const n = Math.min(rowsPerChunk, rows - r);
            const values = new Float32Array(n * cols);
            fillRows(name, s, rng, values, colScale, n);
            await writer.write(dtype === 'F32' ? bytesOf(values) : fromF32(dtype, values));
          }
        }
        await writer.finish();
        written.push(fileNames[k]);
      } catch (e) {
        await writer.abort();
        throw e;
      }
    }
    const torchDtype = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[options.dtype ?? 'BF16'];
    const config = {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: shape.hidden,
      intermediate_size: shape.intermediate,
      num_hidden_layers: shape.layers,
      num_attention_heads: shape.heads,
      num_key_value_heads: shape.kvHeads,
      vocab_size: shape.vocab,
      hidden_act: 'silu',
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: false,
      rope_theta: 10000,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: torchDtype,
    };
    await write('config.json', JSON.stringify(config, null, 2) + '\n');
    await write('generation_config.json', JSON.stringify({ bos_token_id: 1, eos_token_id: 2, do_sample: false }, null, 2) + '\n');
    // A byte-level tokenizer, so text evaluation works on generated models (when the vocabulary holds it).
    if (withTokenizer) {
      const { tokenizer, config: tokenizerConfig } = byteLevelTokenizer();
      await write('tokenizer.json', JSON.stringify(tokenizer) + '\n');
      await write('tokenizer_config.json', JSON.stringify(tokenizerConfig, null, 2) + '\n');
    }
    if (shards > 1) await write('model.safetensors.index.json', JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  }
}

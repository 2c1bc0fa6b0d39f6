// Tiny Llama-family checkpoints with known structure for the forward-pass tests: F32 weights
// from a seed, config.json in the Hugging Face layout, and the matching reference config.
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { gaussian } from './helpers';
import type { RefConfig } from './reference-llama';

export interface TinyVariant {
  modelType?: 'llama' | 'mistral' | 'qwen2';
  hidden?: number;
  intermediate?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  vocab?: number;
  tied?: boolean;
  window?: number;
  ropeScaling?: Record<string, unknown>;
  seed?: number;
}

export interface TinyModel {
  dir: string;
  config: Record<string, unknown>;
  ref: RefConfig;
  weights: Map<string, Float32Array>;
}

export async function writeTinyModel(dir: string, v: TinyVariant = {}): Promise<TinyModel> {
  const modelType = v.modelType ?? 'llama';
  const hidden = v.hidden ?? 48, heads = v.heads ?? 4, kvHeads = v.kvHeads ?? 2;
  const headDim = v.headDim ?? hidden / heads, intermediate = v.intermediate ?? 80, layers = v.layers ?? 2, vocab = v.vocab ?? 97;
  const tied = v.tied ?? false;
  let seed = v.seed ?? 7;
  const weights = new Map<string, Float32Array>();
  const add = (name: string, shape: number[], sigma: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    weights.set(name, Float32Array.from(gaussian(n, seed++, sigma), (x) => x + mean));
    return { name, dtype: 'F32' as const, shape };
  };
  const qd = heads * headDim, kvd = kvHeads * headDim;
  const specs = [add('model.embed_tokens.weight', [vocab, hidden], 1)];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    specs.push(add(`${p}input_layernorm.weight`, [hidden], 0.1, 1));
    specs.push(add(`${p}self_attn.q_proj.weight`, [qd, hidden], 0.4 / Math.sqrt(hidden)));
    specs.push(add(`${p}self_attn.k_proj.weight`, [kvd, hidden], 0.4 / Math.sqrt(hidden)));
    specs.push(add(`${p}self_attn.v_proj.weight`, [kvd, hidden], 1 / Math.sqrt(hidden)));
    if (modelType === 'qwen2') {
      specs.push(add(`${p}self_attn.q_proj.bias`, [qd], 0.3));
      specs.push(add(`${p}self_attn.k_proj.bias`, [kvd], 0.3));
      specs.push(add(`${p}self_attn.v_proj.bias`, [kvd], 0.3));
    }
    specs.push(add(`${p}self_attn.o_proj.weight`, [hidden, qd], 1 / Math.sqrt(qd)));
    specs.push(add(`${p}post_attention_layernorm.weight`, [hidden], 0.1, 1));
    specs.push(add(`${p}mlp.gate_proj.weight`, [intermediate, hidden], 1 / Math.sqrt(hidden)));
    specs.push(add(`${p}mlp.up_proj.weight`, [intermediate, hidden], 1 / Math.sqrt(hidden)));
    specs.push(add(`${p}mlp.down_proj.weight`, [hidden, intermediate], 1 / Math.sqrt(intermediate)));
  }
  specs.push(add('model.norm.weight', [hidden], 0.1, 1));
  if (!tied) specs.push(add('lm_head.weight', [vocab, hidden], 2 / Math.sqrt(hidden)));

  await mkdir(dir, { recursive: true });
  const w = await SafetensorsWriter.create(path.join(dir, 'model.safetensors'), specs, { format: 'pt' });
  for (const s of specs) {
    const a = weights.get(s.name)!;
    await w.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  await w.finish();
  const config: Record<string, unknown> = {
    architectures: [{ llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' }[modelType]],
    model_type: modelType,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
    hidden_act: 'silu',
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: tied,
    ...(v.headDim ? { head_dim: headDim } : {}),
    ...(v.window ? { sliding_window: v.window } : {}),
    ...(v.ropeScaling ? { rope_scaling: v.ropeScaling } : {}),
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const rs = v.ropeScaling as { rope_type?: string; factor?: number; low_freq_factor?: number; high_freq_factor?: number; original_max_position_embeddings?: number } | undefined;
  const ref: RefConfig = {
    hidden, intermediate, layers, heads, kvHeads, headDim, vocab, eps: 1e-5, ropeTheta: 10000, tied,
    ...(v.window ? { slidingWindow: v.window } : {}),
    ...(rs?.rope_type === 'llama3'
      ? { ropeScaling: { type: 'llama3' as const, factor: rs.factor!, lowFreqFactor: rs.low_freq_factor!, highFreqFactor: rs.high_freq_factor!, originalMaxPositionEmbeddings: rs.original_max_position_embeddings! } }
      : rs?.rope_type === 'linear' ? { ropeScaling: { type: 'linear' as const, factor: rs.factor! } } : {}),
  };
  return { dir, config, ref, weights };
}

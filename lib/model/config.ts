// A Llama-family model's config.json, checked and reduced to what the forward pass needs:
// Llama 2/3 (with Llama 3's rope scaling), Mistral (sliding window) and Qwen2 (q/k/v biases).
// Anything the forward pass would get wrong (another architecture, activation, attention or
// rope variant) is refused by name rather than computed differently.

export interface LlamaConfig {
  modelType: 'llama' | 'mistral' | 'qwen2';
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  /** RoPE frequencies per rotated pair (headDim / 2), after rope scaling. */
  invFreq: Float32Array;
  /** lm_head shares the embedding matrix. */
  tied: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  qkvBias: boolean;
  /** Sliding-window attention length, 0 for full causal attention. */
  window: number;
}

export class ConfigError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'ConfigError';
  }
}

const FAMILIES = ['llama', 'mistral', 'qwen2'] as const;

/** The shape of a tensor the model holds, or undefined. */
export type ShapeOf = (name: string) => number[] | undefined;

/** With `shapeOf` (the weights present), the dimensions are checked against the embedding, layer
 * 0 and the layer count before anything is sized by them: a config.json that claims 10^9 layers
 * or a head_dim of 2·10^9 is refused in words, not by running out of memory. */
export function parseLlamaConfig(json: unknown, where = 'config.json', shapeOf?: ShapeOf): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(where, 'must be a JSON object');
  const c = json as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new ConfigError(where, message);
  };
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined) return fail(`${key} is missing`);
    if (!Number.isInteger(v) || (v as number) <= 0) return fail(`${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`${key} must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };

  const modelType = c.model_type;
  if (!FAMILIES.includes(modelType as (typeof FAMILIES)[number]))
    fail(`model_type ${JSON.stringify(modelType)} is not supported (the forward pass covers ${FAMILIES.join(', ')})`);
  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (act !== 'silu') fail(`hidden_act ${JSON.stringify(act)} is not supported (SwiGLU with silu only)`);
  if (c.attention_bias === true) fail('attention_bias: true is not supported (o_proj bias)');
  if (c.mlp_bias === true) fail('mlp_bias: true is not supported');
  if (modelType === 'qwen2' && c.use_sliding_window === true) fail('use_sliding_window: true is not supported (per-layer windows)');

  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', heads);
  if (heads % kvHeads) fail(`num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`);
  if (c.head_dim === undefined && hidden % heads) fail(`hidden_size (${hidden}) must be a multiple of num_attention_heads (${heads}) when head_dim is absent`);
  const headDim = int('head_dim', hidden / heads);
  if (headDim % 2) fail(`head_dim (${headDim}) must be even for rotary embeddings`);
  const ropeTheta = num('rope_theta', 10000);
  const window = modelType === 'mistral' && c.sliding_window != null ? int('sliding_window') : 0;
  const intermediate = int('intermediate_size'), layers = int('num_hidden_layers'), vocab = int('vocab_size');
  if (shapeOf) checkAgainstWeights({ hidden, intermediate, layers, heads, kvHeads, headDim, vocab }, shapeOf, fail);
  return {
    modelType: modelType as LlamaConfig['modelType'],
    hidden,
    intermediate,
    layers,
    heads,
    kvHeads,
    headDim,
    vocab,
    eps: num('rms_norm_eps', 1e-6),
    ropeTheta,
    invFreq: ropeFrequencies(headDim, ropeTheta, c.rope_scaling, fail),
    tied: c.tie_word_embeddings === undefined ? false : c.tie_word_embeddings === true,
    qkvBias: modelType === 'qwen2',
    window,
  };
}

function checkAgainstWeights(d: Pick<LlamaConfig, 'hidden' | 'intermediate' | 'layers' | 'heads' | 'kvHeads' | 'headDim' | 'vocab'>, shapeOf: ShapeOf, fail: (m: string) => never): void {
  // A tensor that is missing altogether is reported later, with the full list of what is needed.
  const rows = (name: string, want: number, what: string) => {
    const shape = shapeOf(name);
    if (shape && shape[0] !== want) fail(`${what} gives ${want} rows for ${name}, but it has ${shape[0]} (shape [${shape.join(', ')}])`);
  };
  const embed = shapeOf('model.embed_tokens.weight');
  if (embed && (embed[0] !== d.vocab || embed[1] !== d.hidden))
    fail(`vocab_size × hidden_size is ${d.vocab} × ${d.hidden}, but model.embed_tokens.weight is [${embed.join(', ')}]`);
  rows('model.layers.0.self_attn.q_proj.weight', d.heads * d.headDim, `num_attention_heads × head_dim (${d.heads} × ${d.headDim})`);
  rows('model.layers.0.self_attn.k_proj.weight', d.kvHeads * d.headDim, `num_key_value_heads × head_dim (${d.kvHeads} × ${d.headDim})`);
  rows('model.layers.0.mlp.gate_proj.weight', d.intermediate, 'intermediate_size');
  const layer = (l: number) => ['input_layernorm.weight', 'self_attn.q_proj.weight', 'mlp.down_proj.weight'].some((t) => shapeOf(`model.layers.${l}.${t}`));
  if (!layer(d.layers - 1)) fail(`num_hidden_layers is ${d.layers}, but the weights have no layer ${d.layers - 1}`);
  if (layer(d.layers)) fail(`num_hidden_layers is ${d.layers}, but the weights have a layer ${d.layers} too`);
}

/** θ^(−2i/d) per pair, adjusted by rope_scaling: linear (positions / factor) or Llama 3's
 * wavelength-dependent scaling; 'default' or null leave them. */
function ropeFrequencies(headDim: number, theta: number, scaling: unknown, fail: (m: string) => never): Float32Array {
  const half = headDim / 2;
  const inv = Array.from({ length: half }, (_, i) => theta ** (-(2 * i) / headDim));
  if (scaling == null) return Float32Array.from(inv);
  if (typeof scaling !== 'object' || Array.isArray(scaling)) fail('rope_scaling must be an object or null');
  const s = scaling as Record<string, unknown>;
  const type = s.rope_type ?? s.type;
  const field = (key: string, fallback?: number): number => {
    const v = s[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`rope_scaling.${key} must be a positive number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  if (type === 'default') return Float32Array.from(inv);
  if (type === 'linear') {
    const factor = field('factor');
    return Float32Array.from(inv, (f) => f / factor);
  }
  if (type === 'llama3') {
    const factor = field('factor'), low = field('low_freq_factor', 1), high = field('high_freq_factor', 4);
    const original = field('original_max_position_embeddings', 8192);
    if (high <= low) fail('rope_scaling.high_freq_factor must exceed low_freq_factor');
    const lowWavelen = original / low, highWavelen = original / high;
    return Float32Array.from(inv, (f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / factor;
      const smooth = (original / wavelen - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
  }
  return fail(`rope_scaling type ${JSON.stringify(type)} is not supported (linear, llama3 or default)`);
}

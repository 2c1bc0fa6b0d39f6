// The forward pass of a Llama-family model, streamed layer by layer: the hidden states of every
// sequence of a batch go through layer 0, then layer 1, ..., so only one layer's weights are in
// memory at a time (the model may be far larger than RAM) and a .tzip is decoded tensor by
// tensor. The arithmetic is native (binding/cpu/forward/llama_layer.h); this file reads weights and
// drives it.
import { runJob } from '../jobs';
import { native, type LlamaHeadWeights, type LlamaLayerStats, type LlamaLayerWeights } from '../native';
import { FormatError } from '../core/errors';
import { ConfigError, parseLlamaConfig, type LlamaConfig } from './config';
import { openWeights, withReplacements, type WeightReader } from './weights';

export interface ForwardOptions {
  threads?: number;
  signal?: AbortSignal;
  /** Called after each layer (done of total layers + 1: the embedding is step 0). */
  onStep?: (done: number, total: number) => void;
  /** Within-step progress in sequences. */
  onProgress?: (done: number, total: number) => void;
  /** Sums of squared linear inputs per layer, added to (importance matrices). */
  stats?: LlamaLayerStats[];
}

const EMBED = 'model.embed_tokens.weight';
const layerName = (l: number, t: string) => `model.layers.${l}.${t}`;

export class LlamaModel {
  private constructor(readonly weights: WeightReader, readonly config: LlamaConfig) {}

  /** Opens a model directory, .safetensors file or .tzip; checks config.json and that every
   * tensor the forward pass needs is present with the shape the config implies. `replace`: tensors
   * to use instead of the stored ones. */
  static async open(input: string, replace?: ReadonlyMap<string, Float32Array>): Promise<LlamaModel> {
    const opened = await openWeights(input);
    let weights = opened;
    try {
      if (replace?.size) weights = withReplacements(opened, replace);
      const raw = await weights.file('config.json');
      if (!raw) throw new ConfigError(weights.label, 'no config.json (the forward pass needs the model configuration)');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw new ConfigError(`${weights.label}: config.json`, `invalid JSON (${e instanceof Error ? e.message : e})`);
      }
      const model = new LlamaModel(weights, parseLlamaConfig(json, `${weights.label}: config.json`, (name) => weights.shape(name)));
      model.checkTensors();
      return model;
    } catch (e) {
      await opened.close();
      throw e;
    }
  }

  /** Every tensor the forward pass reads, with its expected shape. */
  expectedTensors(): Array<{ name: string; shape: number[] }> {
    const c = this.config;
    const qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim;
    const out = [{ name: EMBED, shape: [c.vocab, c.hidden] }];
    for (let l = 0; l < c.layers; l++) {
      const t = (suffix: string, shape: number[]) => out.push({ name: layerName(l, suffix), shape });
      t('input_layernorm.weight', [c.hidden]);
      t('self_attn.q_proj.weight', [qd, c.hidden]);
      t('self_attn.k_proj.weight', [kvd, c.hidden]);
      t('self_attn.v_proj.weight', [kvd, c.hidden]);
      if (c.qkvBias) t('self_attn.q_proj.bias', [qd]), t('self_attn.k_proj.bias', [kvd]), t('self_attn.v_proj.bias', [kvd]);
      t('self_attn.o_proj.weight', [c.hidden, qd]);
      t('post_attention_layernorm.weight', [c.hidden]);
      t('mlp.gate_proj.weight', [c.intermediate, c.hidden]);
      t('mlp.up_proj.weight', [c.intermediate, c.hidden]);
      t('mlp.down_proj.weight', [c.hidden, c.intermediate]);
    }
    out.push({ name: 'model.norm.weight', shape: [c.hidden] });
    if (!c.tied) out.push({ name: 'lm_head.weight', shape: [c.vocab, c.hidden] });
    return out;
  }

  private checkTensors(): void {
    for (const { name, shape } of this.expectedTensors()) {
      const got = this.weights.shape(name);
      if (!got)
        throw new FormatError(this.weights.label, `tensor ${name} is missing${name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : ''}`);
      if (got.join() !== shape.join())
        throw new FormatError(this.weights.label, `tensor ${name} has shape [${got.join(', ')}], but config.json implies [${shape.join(', ')}]`);
    }
  }

  /** Layer-input statistics arrays for every layer, zeroed. */
  newStats(): LlamaLayerStats[] {
    const c = this.config;
    return Array.from({ length: c.layers }, () => ({
      attnIn: new Float64Array(c.hidden),
      oIn: new Float64Array(c.heads * c.headDim),
      mlpIn: new Float64Array(c.hidden),
      downIn: new Float64Array(c.intermediate),
    }));
  }

  /** Final hidden states (before the final norm) of equally long token sequences, concatenated. */
  async forward(sequences: Uint32Array[], options: ForwardOptions = {}): Promise<Float32Array> {
    const c = this.config;
    const positions = sequences[0]?.length ?? 0;
    if (!positions || sequences.some((s) => s.length !== positions)) throw new Error('forward: sequences must be non-empty and equally long');
    const read = (name: string) => this.weights.read(name, { threads: options.threads, signal: options.signal });
    const hidden = new Float32Array(sequences.length * positions * c.hidden);
    {
      const embed = await read(EMBED);
      let row = 0;
      for (const seq of sequences)
        for (const id of seq) {
          if (id >= c.vocab) throw new RangeError(`token id ${id} is not below the vocabulary size ${c.vocab}`);
          hidden.set(embed.subarray(id * c.hidden, (id + 1) * c.hidden), row++ * c.hidden);
        }
    }
    options.onStep?.(1, c.layers + 1);
    const shape = { hidden: c.hidden, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, intermediate: c.intermediate, window: c.window, eps: c.eps };
    for (let l = 0; l < c.layers; l++) {
      const w = await this.layerWeights(l, read);
      await runJob((p) => native.llamaLayerAsync(hidden, positions, shape, w, c.invFreq, options.stats?.[l] ?? null, { threads: options.threads }, p), {
        signal: options.signal,
        onProgress: options.onProgress,
      });
      options.onStep?.(l + 2, c.layers + 1);
    }
    return hidden;
  }

  private async layerWeights(l: number, read: (name: string) => Promise<Float32Array>): Promise<LlamaLayerWeights> {
    const t = (suffix: string) => read(layerName(l, suffix));
    const w: LlamaLayerWeights = {
      attnNorm: await t('input_layernorm.weight'),
      mlpNorm: await t('post_attention_layernorm.weight'),
      q: await t('self_attn.q_proj.weight'),
      k: await t('self_attn.k_proj.weight'),
      v: await t('self_attn.v_proj.weight'),
      o: await t('self_attn.o_proj.weight'),
      gate: await t('mlp.gate_proj.weight'),
      up: await t('mlp.up_proj.weight'),
      down: await t('mlp.down_proj.weight'),
    };
    if (this.config.qkvBias) {
      w.qBias = await t('self_attn.q_proj.bias');
      w.kBias = await t('self_attn.k_proj.bias');
      w.vBias = await t('self_attn.v_proj.bias');
    }
    return w;
  }

  /** The output head: the final norm and lm_head (the embedding when tied). */
  async head(options: { threads?: number; signal?: AbortSignal } = {}): Promise<Omit<LlamaHeadWeights, 'hidden'>> {
    return {
      norm: await this.weights.read('model.norm.weight', options),
      lm: await this.weights.read(this.config.tied ? EMBED : 'lm_head.weight', options),
    };
  }

  close(): Promise<void> {
    return this.weights.close();
  }
}

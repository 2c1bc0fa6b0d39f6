// Deliberately plain reference implementation of the Hugging Face Llama-family causal LM forward
// pass (LlamaForCausalLM / Qwen2ForCausalLM): one sequence, positions 0..T-1, causal attention,
// float64 arithmetic throughout. Used by tests to check the native implementation.

export interface RefConfig {
  hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number;
  headDim: number;            // may differ from hidden/heads
  vocab: number; eps: number; // rms_norm_eps
  ropeTheta: number;
  tied: boolean;              // tie_word_embeddings: lm_head = embed_tokens
  slidingWindow?: number;     // if set: token i attends only to j with i - j < slidingWindow (and j <= i)
  ropeScaling?: { type: 'linear'; factor: number } | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };
}

type Vec = Float64Array;

function get(weights: Map<string, Float32Array>, name: string): Float32Array {
  const w = weights.get(name);
  if (!w) throw new Error(`reference-llama: missing weight ${name}`);
  return w;
}

/** y = x W^T (+ b), W row-major [out, in]. */
function linear(x: Vec, w: Float32Array, outDim: number, b?: Float32Array): Vec {
  const inDim = x.length;
  if (w.length !== outDim * inDim) throw new Error(`reference-llama: weight size ${w.length} != ${outDim}x${inDim}`);
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inDim; i++) s += x[i] * w[o * inDim + i];
    y[o] = s;
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x^2) + eps) * weight. */
function rmsNorm(x: Vec, weight: Float32Array, eps: number): Vec {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * weight[i];
  return y;
}

const silu = (z: number): number => z / (1 + Math.exp(-z));

/** Rotary inverse frequencies (length headDim/2), with HF rope scaling adjustments applied. */
function invFreqs(cfg: RefConfig): Vec {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(cfg.ropeTheta, -(2 * i) / cfg.headDim);
  const rs = cfg.ropeScaling;
  if (rs?.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= rs.factor;
  } else if (rs?.type === 'llama3') {
    // HF _compute_llama3_parameters.
    const orig = rs.originalMaxPositionEmbeddings;
    const lowFreqWavelen = orig / rs.lowFreqFactor;
    const highFreqWavelen = orig / rs.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) inv[i] = inv[i] / rs.factor;      // low frequency: fully scaled
      else if (wavelen < highFreqWavelen) { /* high frequency: unchanged */ }
      else {                                                          // in between: smooth blend
        const smooth = (orig / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
        inv[i] = (1 - smooth) * inv[i] / rs.factor + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** In-place RoPE, "rotate half" convention: dimension i pairs with i + headDim/2 (not interleaved). */
function applyRope(v: Vec, nHeads: number, headDim: number, pos: number, inv: Vec): void {
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const angle = pos * inv[i];
      const c = Math.cos(angle), s = Math.sin(angle);
      const a = v[base + i], b = v[base + i + half];
      v[base + i] = a * c - b * s;
      v[base + i + half] = b * c + a * s;
    }
  }
}

/** Optional hook receiving the input to each linear (by weight name), for importance statistics. */
type Observe = (name: string, x: Vec) => void;

function forward(cfg: RefConfig, weights: Map<string, Float32Array>, tokens: number[], observe?: Observe): Float64Array {
  const { hidden: H, intermediate: I, heads: NH, kvHeads: NKV, headDim: D, vocab: V, eps } = cfg;
  const T = tokens.length;
  const obs: Observe = observe ?? (() => {});
  const inv = invFreqs(cfg);
  const embed = get(weights, 'model.embed_tokens.weight');

  // Residual stream, one vector per position.
  const hs: Vec[] = tokens.map((t) => {
    if (!(t >= 0 && t < V)) throw new Error(`reference-llama: token ${t} out of range`);
    return Float64Array.from(embed.subarray(t * H, (t + 1) * H));
  });

  const group = NH / NKV; // query heads per kv head (GQA)
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}.`;
    const w = (n: string) => get(weights, p + n);
    const bias = (n: string) => weights.get(p + n);

    // --- attention ---
    const qs: Vec[] = [], ks: Vec[] = [], vs: Vec[] = [];
    for (let t = 0; t < T; t++) {
      const x = rmsNorm(hs[t], w('input_layernorm.weight'), eps);
      for (const n of ['q', 'k', 'v']) obs(`${p}self_attn.${n}_proj.weight`, x);
      const q = linear(x, w('self_attn.q_proj.weight'), NH * D, bias('self_attn.q_proj.bias'));
      const k = linear(x, w('self_attn.k_proj.weight'), NKV * D, bias('self_attn.k_proj.bias'));
      const v = linear(x, w('self_attn.v_proj.weight'), NKV * D, bias('self_attn.v_proj.bias'));
      applyRope(q, NH, D, t, inv);
      applyRope(k, NKV, D, t, inv);
      qs.push(q); ks.push(k); vs.push(v);
    }
    const scale = 1 / Math.sqrt(D);
    for (let t = 0; t < T; t++) {
      const attn = new Float64Array(NH * D); // concatenated head outputs
      // Causal (j <= t), plus sliding window: t - j < slidingWindow.
      const j0 = cfg.slidingWindow !== undefined ? Math.max(0, t - cfg.slidingWindow + 1) : 0;
      for (let h = 0; h < NH; h++) {
        const kvh = Math.floor(h / group);
        const scores: number[] = [];
        for (let j = j0; j <= t; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += qs[t][h * D + d] * ks[j][kvh * D + d];
          scores.push(s * scale);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = j0; j <= t; j++) {
          const pj = e[j - j0] / z;
          for (let d = 0; d < D; d++) attn[h * D + d] += pj * vs[j][kvh * D + d];
        }
      }
      obs(`${p}self_attn.o_proj.weight`, attn);
      const o = linear(attn, w('self_attn.o_proj.weight'), H); // o_proj has no bias
      for (let i = 0; i < H; i++) hs[t][i] += o[i];
    }

    // --- MLP (SwiGLU) ---
    for (let t = 0; t < T; t++) {
      const x = rmsNorm(hs[t], w('post_attention_layernorm.weight'), eps);
      obs(`${p}mlp.gate_proj.weight`, x);
      obs(`${p}mlp.up_proj.weight`, x);
      const g = linear(x, w('mlp.gate_proj.weight'), I);
      const u = linear(x, w('mlp.up_proj.weight'), I);
      const a = new Float64Array(I);
      for (let i = 0; i < I; i++) a[i] = silu(g[i]) * u[i];
      obs(`${p}mlp.down_proj.weight`, a);
      const dn = linear(a, w('mlp.down_proj.weight'), H);
      for (let i = 0; i < H; i++) hs[t][i] += dn[i];
    }
  }

  // --- final norm + lm_head ---
  const head = cfg.tied ? embed : get(weights, 'lm_head.weight');
  const logits = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    const x = rmsNorm(hs[t], get(weights, 'model.norm.weight'), eps);
    if (!cfg.tied) obs('lm_head.weight', x);
    logits.set(linear(x, head, V), t * V);
  }
  return logits;
}

/** Logits [tokens.length, vocab], row-major. */
export function referenceLogits(cfg: RefConfig, weights: Map<string, Float32Array>, tokens: number[]): Float64Array {
  return forward(cfg, weights, tokens);
}

/** Per-layer inputs of each linear, for importance checks: mean over tokens of x^2 per input column. */
export function referenceImportance(cfg: RefConfig, weights: Map<string, Float32Array>, sequences: number[][]): Map<string, Float64Array> {
  const sums = new Map<string, Float64Array>();
  const counts = new Map<string, number>();
  const observe: Observe = (name, x) => {
    let s = sums.get(name);
    if (!s) { s = new Float64Array(x.length); sums.set(name, s); }
    for (let i = 0; i < x.length; i++) s[i] += x[i] * x[i];
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  for (const seq of sequences) forward(cfg, weights, seq, observe);
  for (const [name, s] of sums) {
    const n = counts.get(name) ?? 1;
    for (let i = 0; i < s.length; i++) s[i] /= n;
  }
  return sums;
}

/** Numerically stable log-softmax of one row. */
export function logSoftmax(row: Float64Array | number[]): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - m);
  const lse = m + Math.log(z);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

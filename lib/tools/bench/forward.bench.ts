// The forward pass behind `tensorzip eval` / `imatrix`: one decoder layer of a 1.5B-class model
// (Qwen2.5-1.5B's dimensions: hidden 1536, MLP 8960, 12 query and 2 key/value heads of 128) over
// 4 sequences of 512 tokens, and the output head scoring 4 chunks × 255 positions (what eval scores of 4 chunks of 512) against a 151,936-token
// vocabulary. Judged against the FMA peak measured in the same run: a matmul-bound workload.
// Operations counted (an FMA as 2): the seven projections, 2·T·d per head and position for the
// causal attention's scores and weighted values (half of T² on average), and the head's product;
// not counted: norms, RoPE, softmax, SwiGLU, weight packing (the layer's time includes them).
import { runJob } from '../../jobs';
import { native, type LlamaLayerWeights } from '../../native';
import { Rng } from '../../core/random';
import { measure } from './measure';
import { flopsRow, infoRow, threadWord, type BenchContext, type BenchRow } from './row';

const H = 1536, I = 8960, HEADS = 12, KV = 2, D = 128, T = 512, SEQS = 4, LAYERS = 28, VOCAB = 151936, SCORED = 4 * 255;

function matrix(rows: number, cols: number, rng: Rng): Float32Array {
  const sigma = 1 / Math.sqrt(cols);
  return Float32Array.from({ length: rows * cols }, () => rng.normal() * sigma);
}

export async function forwardBench({ threads, limits }: BenchContext): Promise<BenchRow[]> {
  const rng = new Rng(5);
  const w: LlamaLayerWeights = {
    attnNorm: new Float32Array(H).fill(1), mlpNorm: new Float32Array(H).fill(1),
    q: matrix(HEADS * D, H, rng), k: matrix(KV * D, H, rng), v: matrix(KV * D, H, rng), o: matrix(H, HEADS * D, rng),
    gate: matrix(I, H, rng), up: matrix(I, H, rng), down: matrix(H, I, rng),
  };
  const invFreq = Float32Array.from({ length: D / 2 }, (_, i) => 1e6 ** (-(2 * i) / D));
  const shape = { hidden: H, heads: HEADS, kvHeads: KV, headDim: D, intermediate: I, window: 0, eps: 1e-6 };
  const start = Float32Array.from({ length: SEQS * T * H }, () => rng.normal());
  const hidden = new Float32Array(start.length);
  const layerFlops = SEQS * (2 * T * (H * (HEADS + 2 * KV) * D + HEADS * D * H + 3 * H * I) + HEADS * 2 * 2 * D * (T * (T + 1)) / 2);
  const rows: BenchRow[] = [];
  for (const t of [...new Set([1, threads])]) {
    const s = await measure(`layer ${t}t`, () => {
      hidden.set(start);
      return runJob((p) => native.llamaLayerAsync(hidden, T, shape, w, invFreq, null, { threads: t }, p));
    }, { time: 1, iterations: 2 });
    rows.push(flopsRow(`forward.layer.${t === 1 ? '1t' : 'all'}`, `forward: one 1.5B-class decoder layer, ${SEQS} x ${T} tokens, ${threadWord(t)} (${s.toFixed(2)} s)`, layerFlops / s / 1e9, limits, t));
    if (t === threads)
      rows.push(infoRow('forward.tokens', `forward: tokens/s through all ${LAYERS} layers of the 1.5B-class model (from the layer above, head excluded)`, (SEQS * T) / (s * LAYERS), 'tok/s'));
  }
  const lm = matrix(VOCAB, H, rng);
  const head = { hidden: start.subarray(0, SCORED * H), norm: new Float32Array(H).fill(1), lm };
  const positions = Uint32Array.from({ length: SCORED }, (_, i) => i);
  const targets = Uint32Array.from(positions, (i) => (i * 7919) % VOCAB);
  const s = await measure('score', () => runJob((p) => native.llamaScoreAsync(head, null, positions, targets, { eps: 1e-6, threads }, p)), { time: 1, iterations: 2 });
  rows.push(flopsRow('forward.score', `forward: output head over ${SCORED} positions, vocabulary ${VOCAB} (NLL, arg-max), ${threadWord(threads)} (${s.toFixed(2)} s)`, (2 * SCORED * H * VOCAB) / s / 1e9, limits, threads));
  return rows;
}

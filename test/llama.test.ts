import * as assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaModel } from '../lib/model/llama';
import { native } from '../lib/native';
import { gaussian } from './helpers';
import { logSoftmax, referenceLogits } from './reference-llama';
import { writeTinyModel, type TinyVariant } from './tiny-llama';

const PATHS = native.backendInfo().cpu === 'avx2' ? (['scalar', 'avx2'] as const) : (['scalar'] as const);

/** y = x·wᵀ (+ bias) through the gemm_panels kernel row on a path. */
function gemm(x: Float32Array, rows: number, w: Float32Array, cols: number, bias: Float32Array | null, path?: 'scalar' | 'avx2'): Float32Array {
  const y = new Float32Array(rows * cols);
  native.kernelRow('gemm_panels', { x, rows, w, cols, bias: bias ?? undefined, y }, path);
  return y;
}

describe('gemm (forward-pass matrix product)', () => {
  for (const p of PATHS)
    it(`${p}: matches a float64 product on ragged shapes, with and without bias`, () => {
      for (const [rows, k, cols] of [[1, 1, 1], [7, 5, 17], [13, 300, 33], [6, 257, 16], [150, 40, 9]]) {
        const x = gaussian(rows * k, rows + k), w = gaussian(cols * k, cols * 3 + k), b = gaussian(cols, 5);
        for (const bias of [null, b]) {
          const y = gemm(x, rows, w, cols, bias, p);
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++) {
              let s = bias ? bias[c] : 0;
              for (let i = 0; i < k; i++) s += x[r * k + i] * w[c * k + i];
              assert.ok(Math.abs(y[r * cols + c] - s) <= 1e-4 * (1 + Math.sqrt(k)), `${rows}x${k}x${cols} [${r},${c}]: ${y[r * cols + c]} vs ${s}`);
            }
        }
      }
    });
  it('refuses mismatched sizes', () => {
    assert.throws(() => gemm(new Float32Array(6), 2, new Float32Array(7), 2, null), /w must hold cols × k values/);
    assert.throws(() => gemm(new Float32Array(6), 4, new Float32Array(6), 2, null), /x must hold rows × k values/);
    assert.throws(() => gemm(new Float32Array(6), 2, new Float32Array(6), 2, new Float32Array(3)), /bias must hold cols values/);
    assert.throws(() => native.kernelRow('gemm_panels', { x: new Float32Array(6), rows: 2, w: new Float32Array(6), cols: 2, y: new Float32Array(3) }), /y must hold rows × cols values/);
  });
});

describe('forward-pass entry points refuse bad arguments', () => {
  const shape = { hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 16, window: 0, eps: 1e-6 };
  const weights = () => ({
    attnNorm: new Float32Array(8), mlpNorm: new Float32Array(8), q: new Float32Array(64), k: new Float32Array(32), v: new Float32Array(32),
    o: new Float32Array(64), gate: new Float32Array(128), up: new Float32Array(128), down: new Float32Array(128),
  });
  const layer = (over: { shape?: object; weights?: object; hidden?: Float32Array; invFreq?: Float32Array }) =>
    native.llamaLayerAsync(over.hidden ?? new Float32Array(3 * 8), 3, { ...shape, ...over.shape } as typeof shape, { ...weights(), ...over.weights }, over.invFreq ?? new Float32Array(2), null, {});
  it('llamaLayerAsync: shape, sizes and lengths are checked before any work', () => {
    const { kvHeads: _drop, ...noKv } = shape;
    assert.throws(() => native.llamaLayerAsync(new Float32Array(24), 3, noKv as typeof shape, weights(), new Float32Array(2), null, {}), /shape\.kvHeads is required/);
    assert.throws(() => layer({ shape: { kvHeads: 3 } }), /heads must be a multiple of kvHeads/);
    assert.throws(() => layer({ shape: { headDim: 3 } }), /headDim must be even/);
    assert.throws(() => layer({ hidden: new Float32Array(25) }), /whole sequences/);
    assert.throws(() => layer({ weights: { gate: new Float32Array(127) } }), /gate must hold 128 values, got 127/);
    assert.throws(() => layer({ weights: { qBias: new Float64Array(8) } }), /qBias must be a Float32Array/);
    assert.throws(() => layer({ invFreq: new Float32Array(3) }), /invFreq must hold headDim \/ 2 values/);
  });
  it('llamaScoreAsync: rows and targets are checked against the hidden states and the vocabulary', () => {
    const head = { hidden: new Float32Array(2 * 8), norm: new Float32Array(8), lm: new Float32Array(5 * 8) };
    assert.throws(() => native.llamaScoreAsync(head, null, Uint32Array.of(2), Uint32Array.of(0), { eps: 1e-6 }), /rows\[0\] is past the hidden states/);
    assert.throws(() => native.llamaScoreAsync(head, null, Uint32Array.of(1), Uint32Array.of(5), { eps: 1e-6 }), /targets\[0\] = 5 is not below the vocabulary size 5/);
    assert.throws(() => native.llamaScoreAsync(head, { ...head, lm: new Float32Array(48) }, Uint32Array.of(1), Uint32Array.of(0), { eps: 1e-6 }), /lm must hold 40 values/);
    assert.throws(() => native.llamaScoreAsync(head, null, Uint32Array.of(1), Uint32Array.of(0, 1), { eps: 1e-6 }), /same length/);
  });
  it('llamaNormSquaresAsync: adds the squared RMSNorm output per column, and checks its sizes', async () => {
    const ok = new Float64Array(2);
    await native.llamaNormSquaresAsync(Float32Array.of(3, 4, 1, 0), Float32Array.of(1, 2), 1e-6, ok).promise;
    // (3, 4) / sqrt(12.5) · (1, 2) and (1, 0) / sqrt(0.5) · (1, 2)
    assert.ok(Math.abs(ok[0] - (9 / 12.5 + 1 / 0.5)) < 1e-5 && Math.abs(ok[1] - (64 / 12.5)) < 1e-5, `${ok}`);
    assert.throws(() => native.llamaNormSquaresAsync(Float32Array.of(1, 2, 3), Float32Array.of(1, 2), 0, new Float64Array(2)), /whole rows/);
    assert.throws(() => native.llamaNormSquaresAsync(Float32Array.of(1, 2), Float32Array.of(1, 2), 0, new Float64Array(3)), /one value per column \(2\)/);
  });
});

describe('forward pass against the reference implementation', () => {
  let tmp: string;
  before(async () => (tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-llama-'))));
  after(async () => rm(tmp, { recursive: true, force: true }));

  const variants: Array<[string, TinyVariant, number]> = [
    ['Llama, grouped-query attention, untied', { heads: 4, kvHeads: 2 }, 40],
    ['Qwen2: q/k/v biases, tied embeddings, multi-query', { modelType: 'qwen2', heads: 4, kvHeads: 1, tied: true }, 37],
    ['Mistral: sliding window shorter than the sequence', { modelType: 'mistral', window: 9 }, 30],
    ['Llama 3 rope scaling, head_dim != hidden/heads', { heads: 6, kvHeads: 3, headDim: 10, ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }, 33],
  ];
  for (const [name, variant, T] of variants)
    it(name, async () => {
      const tiny = await writeTinyModel(path.join(tmp, name.replace(/\W+/g, '-')), variant);
      const model = await LlamaModel.open(tiny.dir);
      try {
        const seqs = [0, 1].map((s) => Uint32Array.from({ length: T }, (_, i) => (i * 31 + s * 17 + i * i) % tiny.ref.vocab));
        const hidden = await model.forward(seqs, { threads: 2 });
        const rows = Uint32Array.from({ length: 2 * (T - 1) }, (_, i) => (i < T - 1 ? i : i + 1));
        const targets = Uint32Array.from(rows, (r) => seqs[Math.floor(r / T)][(r % T) + 1]);
        const head = { hidden, ...(await model.head()) };
        const scores = await native.llamaScoreAsync(head, head, rows, targets, { eps: model.config.eps, threads: 2 }).promise;
        let worst = 0;
        for (let s = 0; s < 2; s++) {
          const logits = referenceLogits(tiny.ref, tiny.weights, Array.from(seqs[s]));
          for (let t = 0; t < T - 1; t++) {
            const row = logits.subarray(t * tiny.ref.vocab, (t + 1) * tiny.ref.vocab);
            const lp = logSoftmax(row);
            const i = s * (T - 1) + t;
            worst = Math.max(worst, Math.abs(scores.nll[0][i] + lp[seqs[s][t + 1]]));
            let top = 0;
            for (let j = 1; j < row.length; j++) if (row[j] > row[top]) top = j;
            assert.equal(scores.top[0][i], top, `seq ${s} position ${t}: arg-max`);
            assert.equal(scores.kl![i], 0);
          }
        }
        assert.ok(worst < 5e-5, `largest |nll - reference| = ${worst}`);
      } finally {
        await model.close();
      }
    });
});

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

describe('gemm (forward-pass matrix product)', () => {
  for (const p of PATHS)
    it(`${p}: matches a float64 product on ragged shapes, with and without bias`, () => {
      for (const [rows, k, cols] of [[1, 1, 1], [7, 5, 17], [13, 300, 33], [6, 257, 16], [150, 40, 9]]) {
        const x = gaussian(rows * k, rows + k), w = gaussian(cols * k, cols * 3 + k), b = gaussian(cols, 5);
        for (const bias of [null, b]) {
          const y = native.gemm(x, rows, w, cols, bias, p);
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
    assert.throws(() => native.gemm(new Float32Array(6), 2, new Float32Array(7), 2, null), /w must hold cols × k values/);
    assert.throws(() => native.gemm(new Float32Array(6), 4, new Float32Array(6), 2, null), /x must hold rows × k values/);
    assert.throws(() => native.gemm(new Float32Array(6), 2, new Float32Array(6), 2, new Float32Array(3)), /bias must hold cols values/);
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
        const head = await model.head(hidden);
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

#include "llama_layer.h"

#include <cmath>
#include <vector>

#include "../runtime/kernels.h"
#include "llama_ops.h"
#include "../runtime/parallel.h"

namespace tz {

namespace {

// Query rows per step of attention: scores for a block only reach keys up to its last row.
constexpr size_t kAttentionRows = 64;

// Attention of one sequence: q [T, heads·d] (roped), k/v [T, kvHeads·d] -> out [T, heads·d].
void attention(const KernelTable& kt, const LlamaLayerShape& s, const float* q, const float* k, const float* v,
               size_t T, float* out, unsigned threads, JobContext& ctx) {
  const size_t d = s.headDim, qd = s.heads * d, kvd = s.kvHeads * d;
  // K of each kv head packed with positions as outputs; V with head dimensions as outputs.
  const size_t kSize = panelCount(T) * kPanel * d, vSize = panelCount(d) * kPanel * T;
  std::vector<float> kp(s.kvHeads * kSize), vp(s.kvHeads * vSize);
  parallel_for(s.kvHeads, 1, threads, ctx, [&](size_t b, size_t e) {
    for (size_t g = b; g < e; ++g) {
      pack_panels(k + g * d, T, d, kvd, 1, kp.data() + g * kSize);
      pack_panels(v + g * d, d, T, 1, kvd, vp.data() + g * vSize);
    }
  }, false);
  const float scale = float(1.0 / std::sqrt(double(d)));
  const size_t group = s.heads / s.kvHeads;
  parallel_for(s.heads, 1, threads, ctx, [&](size_t b, size_t e) {
    std::vector<float> scores(kAttentionRows * T);
    for (size_t h = b; h < e; ++h) {
      const size_t g = h / group;
      for (size_t r0 = 0; r0 < T; r0 += kAttentionRows) {
        const size_t rows = std::min(kAttentionRows, T - r0), keys = r0 + rows;
        const GemmArgs qk{q + r0 * qd + h * d, rows, qd, kp.data() + g * kSize, d, kPanel * d, keys, nullptr, scores.data(), T, false};
        kt.gemm_panels(qk, 0, panelCount(keys));
        causal_softmax(scores.data(), rows, T, r0, keys, s.window, scale);
        const GemmArgs pv{scores.data(), rows, T, vp.data() + g * vSize, keys, kPanel * T, d, nullptr, out + r0 * qd + h * d, qd, false};
        kt.gemm_panels(pv, 0, panelCount(d));
      }
    }
  }, false);
}

}  // namespace

void llama_layer(const KernelTable& kt, const LlamaLayerShape& s, const LlamaLayerWeights& w, const float* invFreq,
                 float* h, size_t seqs, size_t T, const LlamaLayerStats& stats, unsigned threads, JobContext& ctx) {
  const size_t H = s.hidden, qd = s.heads * s.headDim, kvd = s.kvHeads * s.headDim, I = s.intermediate;
  const size_t half = s.headDim / 2;
  std::vector<float> cos(T * half), sin(T * half);
  rope_tables(invFreq, half, T, cos.data(), sin.data());
  std::vector<float> xn(T * H), q(T * qd), k(T * kvd), v(T * kvd), attn(T * qd), gate(T * I), up(T * I);
  // Element-wise work split by rows so SwiGLU's exponentials do not serialise the layer.
  const auto rowsParallel = [&](size_t rows, const std::function<void(size_t, size_t)>& fn) {
    parallel_for(rows, 16, threads, ctx, fn, false);
  };
  for (size_t sq = 0; sq < seqs; ++sq) {
    float* x = h + sq * T * H;
    rowsParallel(T, [&](size_t b, size_t e) { rms_norm(x + b * H, e - b, H, H, w.attnNorm, s.eps, xn.data() + b * H, H); });
    if (stats.attnIn) add_squares(xn.data(), T, H, H, stats.attnIn);
    gemm(kt, w.q.args(xn.data(), T, H, w.qBias, q.data(), qd, false), threads, ctx);
    gemm(kt, w.k.args(xn.data(), T, H, w.kBias, k.data(), kvd, false), threads, ctx);
    gemm(kt, w.v.args(xn.data(), T, H, w.vBias, v.data(), kvd, false), threads, ctx);
    apply_rope(q.data(), T, qd, s.heads, half, cos.data(), sin.data());
    apply_rope(k.data(), T, kvd, s.kvHeads, half, cos.data(), sin.data());
    attention(kt, s, q.data(), k.data(), v.data(), T, attn.data(), threads, ctx);
    if (stats.oIn) add_squares(attn.data(), T, qd, qd, stats.oIn);
    gemm(kt, w.o.args(attn.data(), T, qd, nullptr, x, H, true), threads, ctx);

    rowsParallel(T, [&](size_t b, size_t e) { rms_norm(x + b * H, e - b, H, H, w.mlpNorm, s.eps, xn.data() + b * H, H); });
    if (stats.mlpIn) add_squares(xn.data(), T, H, H, stats.mlpIn);
    gemm(kt, w.gate.args(xn.data(), T, H, nullptr, gate.data(), I, false), threads, ctx);
    gemm(kt, w.up.args(xn.data(), T, H, nullptr, up.data(), I, false), threads, ctx);
    rowsParallel(T, [&](size_t b, size_t e) { silu_mul(gate.data() + b * I, up.data() + b * I, (e - b) * I); });
    if (stats.downIn) add_squares(gate.data(), T, I, I, stats.downIn);
    gemm(kt, w.down.args(gate.data(), T, I, nullptr, x, H, true), threads, ctx);
    ctx.progress(sq + 1, seqs);
  }
}

}  // namespace tz

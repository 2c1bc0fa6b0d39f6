#include "llama_score.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../runtime/kernels.h"
#include "llama_ops.h"
#include "../runtime/parallel.h"

namespace tz {

namespace {

// Rows per block: each block streams the whole lm_head once, so blocks are large (a multiple of
// the GEMM's 6-row tile); logits of a block are block × vocab floats (87 MB for a 150k vocabulary).
constexpr size_t kBlock = 144;

struct RowStats {
  double max, lse;  // log-sum-exp
  uint32_t top;
};

// The row's maximum and its first index.
RowStats row_max(const float* l, size_t vocab) {
  RowStats s{-INFINITY, 0, 0};
  for (size_t j = 0; j < vocab; ++j)
    if (l[j] > s.max) s.max = l[j], s.top = uint32_t(j);
  return s;
}

// Sets s.lse from Σ e_j, e_j = exp(l_j − max) (single-precision exponentials, each within 1 ulp,
// summed in double). With the other model's logits, the same pass returns Σ p_j (l_j − other_j),
// p_j = e_j / Σ e: since Σ p = 1, KL(P_l ‖ P_other) is that − lse + lse_other.
double log_sum_exp(const float* l, const float* other, size_t vocab, RowStats& s) {
  const float mx = float(s.max);
  double sum = 0, dot = 0;
  if (other) {
    for (size_t j = 0; j < vocab; ++j) {
      const double e = std::exp(l[j] - mx);
      sum += e;
      dot += e * (double(l[j]) - double(other[j]));
    }
  } else {
    for (size_t j = 0; j < vocab; ++j) sum += std::exp(l[j] - mx);
  }
  s.lse = s.max + std::log(sum);
  return dot / sum;
}

}  // namespace

void llama_score(const KernelTable& kt, size_t dim, float eps, const LlamaHead& ref, const LlamaHead* other,
                 const uint32_t* rows, const uint32_t* targets, size_t count, const LlamaScores& out, unsigned threads,
                 JobContext& ctx) {
  const size_t vocab = ref.lm.cols;
  const LlamaHead* heads[2] = {&ref, other};
  const int models = other ? 2 : 1;
  std::vector<float> xn(kBlock * dim);
  LargeBuffer logits[2];
  for (int m = 0; m < models; ++m) logits[m] = allocate_large(kBlock * vocab);
  for (size_t b0 = 0; b0 < count; b0 += kBlock) {
    const size_t n = std::min(kBlock, count - b0);
    for (int m = 0; m < models; ++m) {
      for (size_t i = 0; i < n; ++i) rms_norm(heads[m]->hidden + size_t(rows[b0 + i]) * dim, 1, dim, dim, heads[m]->norm, eps, xn.data() + i * dim, dim);
      gemm(kt, heads[m]->lm.args(xn.data(), n, dim, nullptr, logits[m].get(), vocab, false), threads, ctx);
    }
    parallel_for(n, 1, threads, ctx, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const float* l[2] = {logits[0].get() + i * vocab, other ? logits[1].get() + i * vocab : nullptr};
        RowStats s[2] = {row_max(l[0], vocab), other ? row_max(l[1], vocab) : RowStats{}};
        const double dot = log_sum_exp(l[0], l[1], vocab, s[0]);  // l[1] null without other
        if (other) log_sum_exp(l[1], nullptr, vocab, s[1]);
        for (int m = 0; m < models; ++m) {
          out.nll[m][b0 + i] = s[m].lse - double(l[m][targets[b0 + i]]);
          out.top[m][b0 + i] = s[m].top;
        }
        if (other && out.kl) out.kl[b0 + i] = dot - s[0].lse + s[1].lse;
      }
    }, false);
    ctx.progress(b0 + n, count);
  }
}

}  // namespace tz

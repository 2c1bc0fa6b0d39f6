#include "llama_score.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "llama_ops.h"
#include "parallel.h"

namespace tz {

namespace {

// Rows per block: logits of a block are block × vocab floats (about 19 MB for a 150k vocabulary).
constexpr size_t kBlock = 32;

struct RowStats {
  double max, lse;  // log-sum-exp
  uint32_t top;
};

RowStats stats(const float* l, size_t vocab) {
  RowStats s{-INFINITY, 0, 0};
  for (size_t j = 0; j < vocab; ++j)
    if (l[j] > s.max) s.max = l[j], s.top = uint32_t(j);
  double sum = 0;
  for (size_t j = 0; j < vocab; ++j) sum += std::exp(double(l[j]) - s.max);
  s.lse = s.max + std::log(sum);
  return s;
}

// KL(P_a ‖ P_b) = Σ p_a (l_a − l_b) − lse_a + lse_b, since Σ p_a = 1.
double kl(const float* a, const float* b, size_t vocab, const RowStats& sa, const RowStats& sb) {
  double dot = 0, sum = 0;
  for (size_t j = 0; j < vocab; ++j) {
    const double e = std::exp(double(a[j]) - sa.max);
    sum += e;
    dot += e * (double(a[j]) - double(b[j]));
  }
  return dot / sum - sa.lse + sb.lse;
}

}  // namespace

void llama_score(const KernelTable& kt, size_t dim, float eps, const LlamaHead& ref, const LlamaHead* other,
                 const uint32_t* rows, const uint32_t* targets, size_t count, const LlamaScores& out, unsigned threads,
                 JobContext& ctx) {
  const size_t vocab = ref.lm.cols;
  const LlamaHead* heads[2] = {&ref, other};
  const int models = other ? 2 : 1;
  std::vector<float> xn(kBlock * dim), logits[2];
  for (int m = 0; m < models; ++m) logits[m].resize(kBlock * vocab);
  for (size_t b0 = 0; b0 < count; b0 += kBlock) {
    const size_t n = std::min(kBlock, count - b0);
    for (int m = 0; m < models; ++m) {
      for (size_t i = 0; i < n; ++i) rms_norm(heads[m]->hidden + size_t(rows[b0 + i]) * dim, 1, dim, dim, heads[m]->norm, eps, xn.data() + i * dim, dim);
      gemm(kt, heads[m]->lm.args(xn.data(), n, dim, nullptr, logits[m].data(), vocab, false), threads, ctx);
    }
    parallel_for(n, 1, threads, ctx, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        RowStats s[2];
        for (int m = 0; m < models; ++m) {
          const float* l = logits[m].data() + i * vocab;
          s[m] = stats(l, vocab);
          out.nll[m][b0 + i] = s[m].lse - double(l[targets[b0 + i]]);
          out.top[m][b0 + i] = s[m].top;
        }
        if (other && out.kl) out.kl[b0 + i] = kl(logits[0].data() + i * vocab, logits[1].data() + i * vocab, vocab, s[0], s[1]);
      }
    }, false);
    ctx.progress(b0 + n, count);
  }
}

}  // namespace tz

#include "gemm.h"

#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "parallel.h"

namespace tz {

void pack_panels(const float* src, size_t outputs, size_t k, size_t outStride, size_t kStride, float* dst) {
  const size_t panels = panelCount(outputs);
  for (size_t p = 0; p < panels; ++p) {
    float* d = dst + p * k * kPanel;
    const size_t o0 = p * kPanel, n = std::min(kPanel, outputs - o0);
    for (size_t kk = 0; kk < k; ++kk) {
      for (size_t j = 0; j < n; ++j) d[kk * kPanel + j] = src[(o0 + j) * outStride + kk * kStride];
      for (size_t j = n; j < kPanel; ++j) d[kk * kPanel + j] = 0.0f;
    }
  }
}

void PackedMatrix::pack(const float* w, size_t c, size_t kk, unsigned threads, JobContext& ctx) {
  cols = c, k = kk;
  data.assign(panelCount(c) * kPanel * kk, 0.0f);
  const size_t panels = panelCount(c);
  parallel_for(panels, 64, threads, ctx, [&](size_t b, size_t e) {
    pack_panels(w + b * kPanel * kk, std::min(c, e * kPanel) - b * kPanel, kk, kk, 1, data.data() + b * kPanel * kk);
  }, false);
}

void gemm(const KernelTable& kt, const GemmArgs& a, unsigned threads, JobContext& ctx) {
  const size_t panels = panelCount(a.cols);
  if (threads == 0) threads = default_threads();
  // A few chunks per thread balance the load; chunking never changes the result.
  const size_t chunk = std::max<size_t>(1, panels / (size_t(threads) * 4));
  if (threads == 1 || panels <= 1) {
    ctx.throwIfCancelled();
    kt.gemm_panels(a, 0, panels);
    return;
  }
  parallel_for(panels, chunk, threads, ctx, [&](size_t b, size_t e) { kt.gemm_panels(a, b, e); }, false);
}

}  // namespace tz

#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../runtime/kernels.h"
#include "../runtime/parallel.h"

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

void FreeDeleter::operator()(float* p) const { std::free(p); }

LargeBuffer allocate_large(size_t floats) {
  constexpr size_t kAlign = size_t(2) << 20;
  const size_t bytes = (std::max<size_t>(floats, 1) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where huge pages are off
#endif
  return LargeBuffer(static_cast<float*>(p));
}

void PackedMatrix::pack(const float* w, size_t c, size_t kk, unsigned threads, JobContext& ctx) {
  cols = c, k = kk;
  const size_t panels = panelCount(c);
  data = allocate_large(panels * kPanel * kk);
  parallel_for(panels, 64, threads, ctx, [&](size_t b, size_t e) {
    pack_panels(w + b * kPanel * kk, std::min(c, e * kPanel) - b * kPanel, kk, kk, 1, data.get() + b * kPanel * kk);
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

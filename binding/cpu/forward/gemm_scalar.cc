// Scalar reference of the panel product: one output at a time, summed over k in order.
#include <algorithm>

#include "gemm.h"
#include "../runtime/kernels.h"

namespace tz::scalar {

void gemm_panels(const GemmArgs& a, size_t panelBegin, size_t panelEnd) {
  for (size_t p = panelBegin; p < panelEnd; ++p) {
    const float* panel = a.w + p * a.panelStride;
    const size_t o0 = p * kPanel, n = std::min(kPanel, a.cols - o0);
    for (size_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * a.lda;
      float* y = a.y + r * a.ldy + o0;
      for (size_t j = 0; j < n; ++j) {
        float acc = 0.0f;
        for (size_t kk = 0; kk < a.k; ++kk) acc += x[kk] * panel[kk * kPanel + j];
        if (a.bias) acc += a.bias[o0 + j];
        y[j] = a.accumulate ? y[j] + acc : acc;
      }
    }
  }
}

}  // namespace tz::scalar

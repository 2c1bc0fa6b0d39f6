// AVX2/FMA panel product. A 6×16 register tile (12 accumulators) takes two panel loads and six
// broadcasts per k step; k runs in blocks of kBlockK so a panel's block (16 KB) stays in L1 while
// kBlockRows rows of x (about 150 KB) stay in L2 across the panels of the call.
#include <immintrin.h>

#include <algorithm>

#include "gemm.h"
#include "kernels.h"

namespace tz::avx2 {

namespace {

constexpr size_t kBlockK = 256;
constexpr size_t kBlockRows = 144;
constexpr size_t kTileRows = 6;

// Tile of R rows × 16 outputs over k in [0, kc): y (+)= x·panel (+ bias when `first`).
// n < 16 outputs are stored through a buffer so padding never reaches y.
template <int R>
void tile(const float* x, size_t lda, const float* panel, size_t kc, float* y, size_t ldy, size_t n, bool add,
          const float* bias) {
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (size_t kk = 0; kk < kc; ++kk) {
    const __m256 w0 = _mm256_loadu_ps(panel + kk * kPanel), w1 = _mm256_loadu_ps(panel + kk * kPanel + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 b = _mm256_broadcast_ss(x + r * lda + kk);
      acc0[r] = _mm256_fmadd_ps(b, w0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(b, w1, acc1[r]);
    }
  }
  alignas(32) float buf[kPanel];
  for (int r = 0; r < R; ++r) {
    float* out = y + r * ldy;
    if (n == kPanel) {
      __m256 v0 = acc0[r], v1 = acc1[r];
      if (bias) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
      if (add) v0 = _mm256_add_ps(_mm256_loadu_ps(out), v0), v1 = _mm256_add_ps(_mm256_loadu_ps(out + 8), v1);
      _mm256_storeu_ps(out, v0);
      _mm256_storeu_ps(out + 8, v1);
    } else {
      _mm256_store_ps(buf, acc0[r]);
      _mm256_store_ps(buf + 8, acc1[r]);
      for (size_t j = 0; j < n; ++j) {
        float v = buf[j];
        if (bias) v += bias[j];
        out[j] = add ? out[j] + v : v;
      }
    }
  }
}

using TileFn = void (*)(const float*, size_t, const float*, size_t, float*, size_t, size_t, bool, const float*);
constexpr TileFn kTiles[kTileRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

}  // namespace

void gemm_panels(const GemmArgs& a, size_t panelBegin, size_t panelEnd) {
  for (size_t r0 = 0; r0 < a.rows; r0 += kBlockRows) {
    const size_t rows = std::min(kBlockRows, a.rows - r0);
    for (size_t k0 = 0; k0 < a.k || k0 == 0; k0 += kBlockK) {
      const size_t kc = std::min(kBlockK, a.k - k0);
      const bool first = k0 == 0;
      for (size_t p = panelBegin; p < panelEnd; ++p) {
        const size_t o0 = p * kPanel, n = std::min(kPanel, a.cols - o0);
        const float* panel = a.w + p * a.panelStride + k0 * kPanel;
        const float* bias = first && a.bias ? a.bias + o0 : nullptr;
        const bool add = !first || a.accumulate;
        for (size_t t = 0; t < rows; t += kTileRows) {
          const size_t rr = std::min(kTileRows, rows - t);
          const size_t row = r0 + t;
          kTiles[rr](a.x + row * a.lda + k0, a.lda, panel, kc, a.y + row * a.ldy + o0, a.ldy, n, add, bias);
        }
      }
      if (a.k == 0) break;
    }
  }
}

}  // namespace tz::avx2

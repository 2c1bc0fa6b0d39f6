// AVX2/FMA panel product. A 6×16 register tile (12 accumulators) takes two panel loads and six
// broadcasts per k step; k runs in blocks of kBlockK so a panel's block (16 KB) stays in L1 while
// kBlockRows rows of x (about 150 KB) stay in L2 across the panels of the call.
#include <immintrin.h>

#include <algorithm>

#include "gemm.h"
#include "../runtime/kernels.h"

namespace tz::avx2 {

namespace {

constexpr size_t kBlockK = 256;
constexpr size_t kBlockRows = 144;
constexpr size_t kTileRows = 6;
// Panels whose outputs for a row block (144 × 128 floats, 72 KB) stay in L2 across the k blocks.
constexpr size_t kGroupPanels = 8;

// 6 rows × 16 outputs over k in [0, kc) into acc (6 × 16, row-major). The twelve accumulators
// are named variables: kept in an array, GCC spills them to the stack on every k step.
void tile6(const float* x, size_t lda, const float* panel, size_t kc, float* acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *x0 = x, *x1 = x + lda, *x2 = x + 2 * lda, *x3 = x + 3 * lda, *x4 = x + 4 * lda, *x5 = x + 5 * lda;
  for (size_t kk = 0; kk < kc; ++kk) {
    const __m256 w0 = _mm256_loadu_ps(panel + kk * kPanel), w1 = _mm256_loadu_ps(panel + kk * kPanel + 8);
    __m256 b = _mm256_broadcast_ss(x0 + kk);
    c00 = _mm256_fmadd_ps(b, w0, c00), c01 = _mm256_fmadd_ps(b, w1, c01);
    b = _mm256_broadcast_ss(x1 + kk);
    c10 = _mm256_fmadd_ps(b, w0, c10), c11 = _mm256_fmadd_ps(b, w1, c11);
    b = _mm256_broadcast_ss(x2 + kk);
    c20 = _mm256_fmadd_ps(b, w0, c20), c21 = _mm256_fmadd_ps(b, w1, c21);
    b = _mm256_broadcast_ss(x3 + kk);
    c30 = _mm256_fmadd_ps(b, w0, c30), c31 = _mm256_fmadd_ps(b, w1, c31);
    b = _mm256_broadcast_ss(x4 + kk);
    c40 = _mm256_fmadd_ps(b, w0, c40), c41 = _mm256_fmadd_ps(b, w1, c41);
    b = _mm256_broadcast_ss(x5 + kk);
    c50 = _mm256_fmadd_ps(b, w0, c50), c51 = _mm256_fmadd_ps(b, w1, c51);
  }
  const __m256 c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int i = 0; i < 12; ++i) _mm256_store_ps(acc + 8 * i, c[i]);
}

// y (+)= acc (+ bias) for `rows` rows and n outputs; padding never reaches y.
void store(const float* acc, size_t rows, size_t n, float* y, size_t ldy, bool add, const float* bias) {
  for (size_t r = 0; r < rows; ++r) {
    float* out = y + r * ldy;
    const float* a = acc + r * kPanel;
    if (n == kPanel) {
      __m256 v0 = _mm256_load_ps(a), v1 = _mm256_load_ps(a + 8);
      if (bias) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
      if (add) v0 = _mm256_add_ps(_mm256_loadu_ps(out), v0), v1 = _mm256_add_ps(_mm256_loadu_ps(out + 8), v1);
      _mm256_storeu_ps(out, v0);
      _mm256_storeu_ps(out + 8, v1);
    } else {
      for (size_t j = 0; j < n; ++j) {
        float v = a[j];
        if (bias) v += bias[j];
        out[j] = add ? out[j] + v : v;
      }
    }
  }
}

}  // namespace

// Loop order: row block, panel group, k block, panel, tile.
void gemm_panels(const GemmArgs& a, size_t panelBegin, size_t panelEnd) {
  alignas(32) float acc[kTileRows * kPanel];
  // The last rows of a block, when fewer than six, run from a zero-padded copy.
  alignas(32) float tail[kTileRows * kBlockK];
  for (size_t r0 = 0; r0 < a.rows; r0 += kBlockRows) {
    const size_t rows = std::min(kBlockRows, a.rows - r0);
    const size_t full = rows / kTileRows * kTileRows, rest = rows - full;
    for (size_t g0 = panelBegin; g0 < panelEnd; g0 += kGroupPanels) {
      const size_t g1 = std::min(panelEnd, g0 + kGroupPanels);
      for (size_t k0 = 0; k0 < a.k || k0 == 0; k0 += kBlockK) {
        const size_t kc = std::min(kBlockK, a.k - k0);
        const bool first = k0 == 0;
        if (rest) {
          std::fill(tail, tail + kTileRows * kc, 0.0f);
          for (size_t r = 0; r < rest; ++r) std::copy_n(a.x + (r0 + full + r) * a.lda + k0, kc, tail + r * kc);
        }
        for (size_t p = g0; p < g1; ++p) {
          const size_t o0 = p * kPanel, n = std::min(kPanel, a.cols - o0);
          const float* panel = a.w + p * a.panelStride + k0 * kPanel;
          const float* bias = first && a.bias ? a.bias + o0 : nullptr;
          const bool add = !first || a.accumulate;
          for (size_t t = 0; t < full; t += kTileRows) {
            const size_t row = r0 + t;
            tile6(a.x + row * a.lda + k0, a.lda, panel, kc, acc);
            store(acc, kTileRows, n, a.y + row * a.ldy + o0, a.ldy, add, bias);
          }
          if (rest) {
            tile6(tail, kc, panel, kc, acc);
            store(acc, rest, n, a.y + (r0 + full) * a.ldy + o0, a.ldy, add, bias);
          }
        }
        if (a.k == 0) break;
      }
    }
  }
}

}  // namespace tz::avx2

// k-means assignment with AVX2: a fused distance + argmin over centroid blocks of 8 (kmeans.h's
// SIMD layout), four points at a time so each centroid load feeds four FMAs. The same FMA chain
// per (point, centroid) as the scalar reference, so the labels are identical.
#include <immintrin.h>

#include <cmath>

#include "../runtime/kernels.h"
#include "kmeans.h"

namespace tz::avx2 {

namespace {

// Labels of points [0, Points) at x (V = 0: dimension c.v at run time).
template <unsigned V, unsigned Points>
void assign(const KmeansCentroids& c, const float* x, uint32_t* labels) {
  const unsigned v = V ? V : c.v;
  constexpr unsigned kMaxV = 16;
  __m256 m[Points][kMaxV];
  for (unsigned p = 0; p < Points; ++p)
    for (unsigned d = 0; d < v; ++d) m[p][d] = _mm256_set1_ps(-2.0f * x[p * v + d]);
  __m256 best[Points];
  __m256i bestIndex[Points];
  for (unsigned p = 0; p < Points; ++p) {
    best[p] = _mm256_set1_ps(INFINITY);
    bestIndex[p] = _mm256_setzero_si256();
  }
  __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const unsigned blocks = (c.k + 7) / 8;
  for (unsigned b = 0; b < blocks; ++b) {
    const float* block = c.blocked.data() + size_t(b) * v * 8;
    __m256 acc[Points];
    const __m256 norm = _mm256_loadu_ps(c.norms.data() + size_t(b) * 8);
    for (unsigned p = 0; p < Points; ++p) acc[p] = norm;
    for (unsigned d = 0; d < v; ++d) {
      const __m256 cd = _mm256_loadu_ps(block + d * 8);
      for (unsigned p = 0; p < Points; ++p) acc[p] = _mm256_fmadd_ps(m[p][d], cd, acc[p]);
    }
    for (unsigned p = 0; p < Points; ++p) {
      const __m256 lt = _mm256_cmp_ps(acc[p], best[p], _CMP_LT_OQ);
      best[p] = _mm256_blendv_ps(best[p], acc[p], lt);
      bestIndex[p] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestIndex[p]), _mm256_castsi256_ps(index), lt));
    }
    index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
  }
  for (unsigned p = 0; p < Points; ++p) {
    alignas(32) float value[8];
    alignas(32) uint32_t at[8];
    _mm256_store_ps(value, best[p]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(at), bestIndex[p]);
    // Lanes hold the first minimum of their own centroids; across lanes, ties go to the smaller index.
    uint32_t label = 0;
    float min = INFINITY;
    for (int lane = 0; lane < 8; ++lane)
      if (value[lane] < min || (value[lane] == min && at[lane] < label)) {
        min = value[lane];
        label = at[lane];
      }
    labels[p] = label;
  }
}

template <unsigned V>
void assignAll(const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels) {
  const unsigned v = V ? V : c.v;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) assign<V, 4>(c, x + i * v, labels + i);
  for (; i < n; ++i) assign<V, 1>(c, x + i * v, labels + i);
}

}  // namespace

void kmeans_assign(const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels) {
  switch (c.v) {
    case 4: return assignAll<4>(c, x, n, labels);
    case 6: return assignAll<6>(c, x, n, labels);
    case 8: return assignAll<8>(c, x, n, labels);
    case 12: return assignAll<12>(c, x, n, labels);
    default: return assignAll<0>(c, x, n, labels);
  }
}

}  // namespace tz::avx2

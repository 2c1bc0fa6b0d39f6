// AVX2 hadamard_blocks row: the reference's operations on eight lanes. Stages h = 1, 2, 4 pair
// lanes inside one register (a permute brings each lane's partner; a + b is the same sum either
// way round, and a − b is taken as the reference takes it); stages h >= 8 pair whole registers.
#include <immintrin.h>

#include "hadamard.h"

#include "../runtime/kernels.h"

namespace tz::avx2 {

namespace {

// The stages h = 1, 2, 4 of one register; hi lanes (those with bit h set) get partner − self.
inline __m256 InRegister(__m256 v) {
  __m256 p = _mm256_permute_ps(v, 0xB1);  // h = 1: lanes swapped in pairs
  v = _mm256_blend_ps(_mm256_add_ps(v, p), _mm256_sub_ps(p, v), 0xAA);
  p = _mm256_permute_ps(v, 0x4E);  // h = 2
  v = _mm256_blend_ps(_mm256_add_ps(v, p), _mm256_sub_ps(p, v), 0xCC);
  p = _mm256_permute2f128_ps(v, v, 0x01);  // h = 4
  return _mm256_blend_ps(_mm256_add_ps(v, p), _mm256_sub_ps(p, v), 0xF0);
}

inline void Multiply(float* v, const float* m, size_t block) {
  for (size_t j = 0; j < block; j += 8) _mm256_storeu_ps(v + j, _mm256_mul_ps(_mm256_loadu_ps(v + j), _mm256_loadu_ps(m + j)));
}

}  // namespace

void hadamard_blocks(float* x, size_t n, size_t block, const float* m, unsigned inverse) {
  if (block < 8) return scalar::hadamard_blocks(x, n, block, m, inverse);
  for (size_t b = 0; b < n; b += block) {
    float* v = x + b;
    if (!inverse) Multiply(v, m + b, block);
    for (size_t j = 0; j < block; j += 8) _mm256_storeu_ps(v + j, InRegister(_mm256_loadu_ps(v + j)));
    for (size_t h = 8; h < block; h *= 2)
      for (size_t i = 0; i < block; i += 2 * h)
        for (size_t j = i; j < i + h; j += 8) {
          const __m256 a = _mm256_loadu_ps(v + j), c = _mm256_loadu_ps(v + j + h);
          _mm256_storeu_ps(v + j, _mm256_add_ps(a, c));
          _mm256_storeu_ps(v + j + h, _mm256_sub_ps(a, c));
        }
    if (inverse) Multiply(v, m + b, block);
  }
}

}  // namespace tz::avx2

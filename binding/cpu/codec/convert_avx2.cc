// AVX2/F16C dtype conversion. Must equal the scalar reference bit for bit (tested on random
// bit patterns, NaN payloads, Inf, subnormals and rounding ties). Tails use the scalar code.
#include <immintrin.h>

#include "../runtime/kernels.h"

namespace tz::avx2 {

namespace {

// f32 -> bf16 bits in the low half of each 32-bit lane: RNE, NaN quieted (see float_bits.h).
inline __m256i bf16_round(__m256 f) {
  const __m256i x = _mm256_castps_si256(f);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  const __m256i isNan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(rounded, quiet, isNan);
}

constexpr int kF16Round = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

}  // namespace

void f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = bf16_round(_mm256_loadu_ps(src + i));
    const __m256i b = bf16_round(_mm256_loadu_ps(src + i + 8));
    // packus works per 128-bit lane; the permute restores element order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), packed);
  }
  scalar::f32_to_bf16(src + i, dst + i, n - i);
}

void bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
  }
  scalar::bf16_to_f32(src + i, dst + i, n - i);
}

void f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kF16Round);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  scalar::f32_to_f16(src + i, dst + i, n - i);
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  scalar::f16_to_f32(src + i, dst + i, n - i);
}

}  // namespace tz::avx2

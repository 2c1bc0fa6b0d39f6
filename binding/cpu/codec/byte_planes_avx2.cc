// Byte planes, AVX2 (byte_planes_scalar.cc is the reference): width 2 (bf16, f16), 32 elements
// at a time; other widths and tails use the scalar code.
#include <immintrin.h>

#include "../runtime/kernels.h"

namespace tz::avx2 {

namespace {

// Rotations by one bit inside each 16-bit element (the sign bit to bit 0 and back).
inline __m256i rotl1_16(__m256i x) { return _mm256_or_si256(_mm256_slli_epi16(x, 1), _mm256_srli_epi16(x, 15)); }
inline __m256i rotr1_16(__m256i x) { return _mm256_or_si256(_mm256_srli_epi16(x, 1), _mm256_slli_epi16(x, 15)); }

}  // namespace

void split_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* const* planes) {
  if (width != 2) return scalar::split_planes(src, n, width, rotate, planes);
  uint8_t* lo = planes[0];
  uint8_t* hi = planes[1];
  const __m256i low = _mm256_set1_epi16(0x00FF);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i + 32));
    if (rotate) a = rotl1_16(a), b = rotl1_16(b);
    // packus works per 128-bit lane; the permute restores element order.
    const __m256i l = _mm256_packus_epi16(_mm256_and_si256(a, low), _mm256_and_si256(b, low));
    const __m256i h = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + i), _mm256_permute4x64_epi64(l, 0xD8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + i), _mm256_permute4x64_epi64(h, 0xD8));
  }
  uint8_t* const tails[2] = {lo + i, hi + i};
  scalar::split_planes(src + 2 * i, n - i, 2, rotate, tails);
}

void merge_planes(const uint8_t* const* planes, size_t n, unsigned width, bool rotate, uint8_t* dst) {
  if (width != 2) return scalar::merge_planes(planes, n, width, rotate, dst);
  const uint8_t* lo = planes[0];
  const uint8_t* hi = planes[1];
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + i));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + i));
    // unpack works per 128-bit lane: elements 0-7 and 16-23, then 8-15 and 24-31.
    const __m256i e0 = _mm256_unpacklo_epi8(l, h);
    const __m256i e1 = _mm256_unpackhi_epi8(l, h);
    __m256i a = _mm256_permute2x128_si256(e0, e1, 0x20);
    __m256i b = _mm256_permute2x128_si256(e0, e1, 0x31);
    if (rotate) a = rotr1_16(a), b = rotr1_16(b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * i), a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * i + 32), b);
  }
  const uint8_t* const tails[2] = {lo + i, hi + i};
  scalar::merge_planes(tails, n - i, 2, rotate, dst + 2 * i);
}

}  // namespace tz::avx2

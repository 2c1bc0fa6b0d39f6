// rtn with AVX2: vector absmax, quantization and dequantization, codes packed eight at a time;
// a group's last codes through bitpack.h, as the scalar reference. Must equal rtn_scalar.cc bit
// for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "../codec/bitpack.h"
#include "../codec/bitpack_eight.h"
#include "../runtime/kernels.h"
#include "rtn.h"

namespace tz::avx2 {

namespace {

float absmax(const float* x, size_t len) {
  const __m256 signless = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= len; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + i), signless));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float amax = 0.0f;
  for (float v : lanes) amax = std::max(amax, v);
  for (; i < len; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

// Codes eight at a time (bitpack_eight.h): groups start on whole bytes (group % 8 == 0); a
// group's last len % 8 codes go through pack_codes / unpack_codes.
template <unsigned Bits>
void Encode(const float* w, size_t n, size_t group, uint8_t* packed, uint16_t* scales) {
  const int qmax = rtn_qmax(Bits);
  uint8_t tail[8];
  const __m256 lo = _mm256_set1_ps(float(-qmax)), hi = _mm256_set1_ps(float(qmax));
  const __m256i offset = _mm256_set1_epi32(qmax);
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float* x = w + start;
    scales[g] = rtn_scale_bits(absmax(x, len), Bits);
    const float inv = rtn_inverse(bits_f32(f16_to_f32_bits(scales[g])));
    const __m256 vinv = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      __m256 q = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
      const __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(q), offset);  // 0..2*qmax <= 254
      const __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      const uint64_t p = pack_eight<Bits>(uint64_t(_mm_cvtsi128_si64(_mm_packus_epi16(c16, c16))));
      std::memcpy(packed + (start + i) / 8 * Bits, &p, Bits);
    }
    const size_t done = i;
    for (; i < len; ++i) {
      const float q = std::min(std::max(std::nearbyint(x[i] * inv), float(-qmax)), float(qmax));
      tail[i - done] = uint8_t(int(q) + qmax);
    }
    pack_codes(tail, len - done, Bits, packed + (start + done) / 8 * Bits);
  }
}

template <unsigned Bits>
unsigned Decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, float* out) {
  const int qmax = rtn_qmax(Bits);
  uint8_t tail[8];
  const __m256i offset = _mm256_set1_epi32(qmax);
  __m128i top8 = _mm_setzero_si128();  // running byte-wise max of the codes (the scalar's `top`)
  uint8_t top = 0;
  const size_t bytes = (n * Bits + 7) / 8;
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float s = bits_f32(f16_to_f32_bits(scales[g]));
    const __m256 vs = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      const size_t at = (start + i) / 8 * Bits;
      const __m128i c8 = _mm_cvtsi64_si128(int64_t(unpack_eight<Bits>(load_packed<Bits>(packed + at, at + 8 <= bytes))));
      top8 = _mm_max_epu8(top8, c8);
      const __m256 q = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(c8), offset));
      _mm256_storeu_ps(out + start + i, _mm256_mul_ps(q, vs));
    }
    const size_t done = i;
    unpack_codes(packed + (start + done) / 8 * Bits, len - done, Bits, tail);
    for (; i < len; ++i) {
      top = std::max(top, tail[i - done]);
      out[start + i] = float(int(tail[i - done]) - qmax) * s;
    }
  }
  alignas(16) uint8_t lanes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), top8);
  for (uint8_t v : lanes) top = std::max(top, v);
  return (top > 2 * qmax ? kFaultCode : 0u) | f16_scales_fault(scales, (n + group - 1) / group);
}

// f(std::integral_constant<unsigned, bits>) for bits 2..8 (checked where the call is made).
template <typename F>
auto WithBits(unsigned bits, const F& f) {
  switch (bits) {
    case 2: return f(std::integral_constant<unsigned, 2>());
    case 3: return f(std::integral_constant<unsigned, 3>());
    case 4: return f(std::integral_constant<unsigned, 4>());
    case 5: return f(std::integral_constant<unsigned, 5>());
    case 6: return f(std::integral_constant<unsigned, 6>());
    case 7: return f(std::integral_constant<unsigned, 7>());
    default: return f(std::integral_constant<unsigned, 8>());
  }
}

}  // namespace

void rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales) {
  WithBits(bits, [&](auto b) { Encode<decltype(b)::value>(w, n, group, packed, scales); });
}

unsigned rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out) {
  return WithBits(bits, [&](auto b) { return Decode<decltype(b)::value>(packed, scales, n, group, out); });
}

}  // namespace tz::avx2

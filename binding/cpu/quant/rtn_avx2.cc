// rtn with AVX2: vector absmax, quantization and dequantization; packing is shared with the
// scalar reference (bitpack.h). Must equal rtn_scalar.cc bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../codec/bitpack.h"
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

// 4-bit codes (rtn:4, the common width) are packed and unpacked eight at a time in a 64-bit
// word instead of code by code through bitpack.h's bit accumulator, to the same bytes.
// Eight codes, one per byte of v (each < 16), as the four bytes pack_codes writes, LSB first.
uint32_t pack_eight_nibbles(uint64_t v) {
  v = (v | (v >> 4)) & 0x00FF00FF00FF00FFull;  // even bytes: code 2j | code 2j+1 << 4
  v = (v | (v >> 8)) & 0x0000FFFF0000FFFFull;
  return uint32_t(v | (v >> 16));
}

// The inverse: four packed bytes to eight codes, one per byte.
uint64_t unpack_eight_nibbles(uint32_t packed) {
  uint64_t v = packed;
  v = (v | (v << 16)) & 0x0000FFFF0000FFFFull;
  v = (v | (v << 8)) & 0x00FF00FF00FF00FFull;  // byte 2j: packed byte j
  return (v | (v << 4)) & 0x0F0F0F0F0F0F0F0Full;
}

}  // namespace

void rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales) {
  const int qmax = rtn_qmax(bits);
  std::vector<uint8_t> codes(group + 8);
  const __m256 lo = _mm256_set1_ps(float(-qmax)), hi = _mm256_set1_ps(float(qmax));
  const __m256i offset = _mm256_set1_epi32(qmax);
  const bool four = bits == 4;
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float* x = w + start;
    scales[g] = rtn_scale_bits(absmax(x, len), bits);
    const float inv = rtn_inverse(bits_f32(f16_to_f32_bits(scales[g])));
    const __m256 vinv = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      __m256 q = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
      const __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(q), offset);  // 0..2*qmax <= 254
      const __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      const __m128i c8 = _mm_packus_epi16(c16, c16);
      if (four) {
        const uint32_t p = pack_eight_nibbles(uint64_t(_mm_cvtsi128_si64(c8)));
        std::memcpy(packed + (start + i) / 2, &p, 4);
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(codes.data() + i), c8);
      }
    }
    const size_t done = four ? i : 0;  // codes already packed; groups start on whole bytes (group % 8 == 0)
    for (; i < len; ++i) {
      const float q = std::min(std::max(std::nearbyint(x[i] * inv), float(-qmax)), float(qmax));
      codes[i] = uint8_t(int(q) + qmax);
    }
    pack_codes(codes.data() + done, len - done, bits, packed + (start + done) * bits / 8);
  }
}

unsigned rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out) {
  const int qmax = rtn_qmax(bits);
  std::vector<uint8_t> codes(group + 8);
  const __m256i offset = _mm256_set1_epi32(qmax);
  __m128i top8 = _mm_setzero_si128();  // running byte-wise max of the codes (the scalar's `top`)
  uint8_t top = 0;
  const bool four = bits == 4;
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const size_t ahead = four ? len / 8 * 8 : 0;  // codes unpacked in the loop below
    unpack_codes(packed + (start + ahead) * bits / 8, len - ahead, bits, codes.data() + ahead);
    const float s = bits_f32(f16_to_f32_bits(scales[g]));
    const __m256 vs = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      __m128i c8;
      if (four) {
        uint32_t p;
        std::memcpy(&p, packed + (start + i) / 2, 4);
        c8 = _mm_cvtsi64_si128(int64_t(unpack_eight_nibbles(p)));
      } else {
        c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes.data() + i));
      }
      top8 = _mm_max_epu8(top8, c8);
      const __m256 q = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(c8), offset));
      _mm256_storeu_ps(out + start + i, _mm256_mul_ps(q, vs));
    }
    for (; i < len; ++i) {
      top = std::max(top, codes[i]);
      out[start + i] = float(int(codes[i]) - qmax) * s;
    }
  }
  alignas(16) uint8_t lanes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), top8);
  for (uint8_t v : lanes) top = std::max(top, v);
  return (top > 2 * qmax ? kFaultCode : 0u) | f16_scales_fault(scales, (n + group - 1) / group);
}

}  // namespace tz::avx2

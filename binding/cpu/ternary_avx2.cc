// ternary with AVX2: vector absmean (the lane order of ternary.h), codes and dequantisation;
// packing is shared with the scalar reference. Must equal ternary_scalar.cc bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "ternary.h"

namespace tz::avx2 {

namespace {

const __m256 kAbs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));

float absmean(const float* x, size_t len) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= len; i += 8) acc = _mm256_add_ps(acc, _mm256_and_ps(_mm256_loadu_ps(x + i), kAbs));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (; i < len; ++i) lanes[i % 8] += std::fabs(x[i]);
  return ternary_reduce_lanes(lanes) / float(len);
}

// ternary_refine with the same lane order: masked |w| (0 where the trit is 0) added per lane.
float refine(const float* x, size_t len, float gamma, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    const __m256 denom = _mm256_set1_ps(gamma + kTernaryEps);
    __m256 acc = _mm256_setzero_ps();
    size_t nonzero = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 q = _mm256_round_ps(_mm256_div_ps(v, denom), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m256 keep = _mm256_cmp_ps(q, _mm256_setzero_ps(), _CMP_NEQ_OQ);  // |round| >= 1 <=> trit != 0
      acc = _mm256_add_ps(acc, _mm256_and_ps(_mm256_and_ps(v, kAbs), keep));
      nonzero += unsigned(__builtin_popcount(unsigned(_mm256_movemask_ps(keep))));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (; i < len; ++i) {
      const bool keep = ternary_code(x[i], gamma) != 1;
      lanes[i % 8] += keep ? std::fabs(x[i]) : 0.0f;
      nonzero += keep;
    }
    if (nonzero == 0) break;
    gamma = ternary_reduce_lanes(lanes) / float(nonzero);
  }
  return gamma;
}

// Codes of 8 weights for scale γ: clamp(round(w / (γ + eps)), -1, 1) + 1.
inline __m256i codes8(__m256 w, __m256 denom) {
  __m256 q = _mm256_round_ps(_mm256_div_ps(w, denom), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q = _mm256_min_ps(_mm256_max_ps(q, _mm256_set1_ps(-1.0f)), _mm256_set1_ps(1.0f));
  return _mm256_add_epi32(_mm256_cvtps_epi32(q), _mm256_set1_epi32(1));
}

void encodeRun(const float* x, size_t len, float gamma, uint8_t* codes) {
  const __m256 denom = _mm256_set1_ps(gamma + kTernaryEps);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256i c = codes8(_mm256_loadu_ps(x + i), denom);
    const __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), _mm_packus_epi16(c16, c16));
  }
  for (; i < len; ++i) codes[i] = ternary_code(x[i], gamma);
}

void decodeRun(const uint8_t* codes, size_t len, float s, float* out) {
  const __m256 vs = _mm256_set1_ps(s);
  const __m256i one = _mm256_set1_epi32(1);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(c, one)), vs));
  }
  for (; i < len; ++i) out[i] = float(int(codes[i]) - 1) * s;
}

// Packs whole 32-byte blocks with byte-wise arithmetic (codes <= 2, so nothing overflows a
// byte: 3·acc + c <= 242 for p3, c << 6 <= 128 for p2); the tail uses the reference.
void pack(const uint8_t* codes, size_t n, unsigned packing, uint8_t* out) {
  const unsigned per = ternary_per_byte(packing);
  const size_t block = 32u * per, full = n / block;
  for (size_t blk = 0; blk < full; ++blk) {
    const uint8_t* c = codes + blk * block;
    __m256i acc;
    if (packing == 3) {
      acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 128));
      for (int k = 3; k >= 0; --k) {
        const __m256i ck = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32 * k));
        acc = _mm256_add_epi8(_mm256_add_epi8(acc, _mm256_add_epi8(acc, acc)), ck);
      }
    } else {
      acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c));
      for (int k = 1; k < 4; ++k)
        acc = _mm256_or_si256(acc, _mm256_slli_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32 * k)), 2 * k));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + blk * 32), acc);
  }
  for (size_t b = full * 32, bytes = ternary_packed_bytes(n, packing); b < bytes; ++b) ternary_pack_byte(codes, n, packing, b, out);
}

}  // namespace

void ternary_encode(const float* w, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales) {
  std::vector<uint8_t> codes(n + 8);
  if (tensorScale >= 0.0f) {
    encodeRun(w, n, tensorScale, codes.data());
  } else {
    for (size_t g = 0, start = 0; start < n; ++g, start += group) {
      const size_t len = std::min(group, n - start);
      const float gamma = refine(w + start, len, absmean(w + start, len), rounds);
      scales[g] = ternary_scale_bits(gamma);
      encodeRun(w + start, len, gamma, codes.data() + start);
    }
  }
  pack(codes.data(), n, packing, packed);
}

void ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, float* out) {
  std::vector<uint8_t> codes(n + 8);
  ternary_unpack_table(packed, n, packing, codes.data());
  if (tensorScale >= 0.0f) {
    decodeRun(codes.data(), n, tensorScale, out);
    return;
  }
  for (size_t g = 0, start = 0; start < n; ++g, start += group)
    decodeRun(codes.data() + start, std::min(group, n - start), bits_f32(f16_to_f32_bits(scales[g])), out + start);
}

}  // namespace tz::avx2

// ternary with AVX2, fused: raw f32/bf16/f16 weights in, packed codes out (and back), one packing
// block at a time, without a division: a weight's trit is its sign when its magnitude bits exceed
// the group's threshold (ternary_threshold_bits in ternary.h). Must equal ternary_scalar.cc bit
// for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../runtime/kernels.h"
#include "ternary.h"

namespace tz::avx2 {

namespace {

const __m256 kAbs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));

// Elements i..i+7 of a raw array as |f32| (exact).
template <FloatType T>
inline __m256 abs8(const void* src, size_t i) {
  if constexpr (T == FloatType::F32) {
    return _mm256_and_ps(_mm256_loadu_ps(static_cast<const float*>(src) + i), kAbs);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i));
    if constexpr (T == FloatType::BF16) return _mm256_and_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)), kAbs);
    else return _mm256_and_ps(_mm256_cvtph_ps(h), kAbs);
  }
}

template <FloatType T>
inline float absF32(const void* src, size_t i) {
  return bits_f32(load_f32_bits(src, T, i) & 0x7FFFFFFFu);
}

// The 16 lanes of ternary.h from two vectors: lanes 0-7 and 8-15, or (interleaved) the even and
// the odd lanes.
inline void storeLanes(__m256 first, __m256 second, bool interleaved, float* lanes) {
  alignas(32) float a[8], b[8];
  _mm256_store_ps(a, first);
  _mm256_store_ps(b, second);
  for (int m = 0; m < 8; ++m) {
    lanes[interleaved ? 2 * m : m] = a[m];
    lanes[interleaved ? 2 * m + 1 : m + 8] = b[m];
  }
}

// Sums of |w| over N consecutive groups of len weights from `start`, each in the lane order of
// ternary.h. Summing several groups at once overlaps their add chains (sequential by definition).
template <FloatType T, int N>
void absSums(const void* src, size_t start, size_t len, float* sums) {
  __m256 first[N], second[N];
  for (int j = 0; j < N; ++j) first[j] = second[j] = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
#pragma GCC unroll 4
    for (int j = 0; j < N; ++j) {
      const size_t at = start + j * len + i;
      if constexpr (T == FloatType::BF16) {
        // Each dword holds an even element (low half) and the next odd one (high half): shifting
        // or masking gives their f32 bits, with the sign cleared, without any shuffle.
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(src) + at));
        first[j] = _mm256_add_ps(first[j], _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x7FFF)), 16)));
        second[j] = _mm256_add_ps(second[j], _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(0x7FFF0000))));
      } else {
        first[j] = _mm256_add_ps(first[j], abs8<T>(src, at));
        second[j] = _mm256_add_ps(second[j], abs8<T>(src, at + 8));
      }
    }
  }
  if constexpr (N == 4) {
    if (i == len) {  // no tail: the pairwise tree of ternary_reduce_lanes for 4 groups at once
      __m256 pairs[4];  // lanes 2m + 2m+1 of each group, m = 0..7 in order
      for (int j = 0; j < 4; ++j)
        pairs[j] = T == FloatType::BF16 ? _mm256_add_ps(first[j], second[j])
                                        : _mm256_permutevar8x32_ps(_mm256_hadd_ps(first[j], second[j]), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
      // hadd twice leaves ((p0+p1)+(p2+p3)) of each group below and ((p4+p5)+(p6+p7)) above.
      const __m256 quads = _mm256_hadd_ps(_mm256_hadd_ps(pairs[0], pairs[1]), _mm256_hadd_ps(pairs[2], pairs[3]));
      _mm_storeu_ps(sums, _mm_add_ps(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1)));
      return;
    }
  }
  for (int j = 0; j < N; ++j) {
    float lanes[kTernaryLanes];
    storeLanes(first[j], second[j], T == FloatType::BF16, lanes);
    for (size_t t = i; t < len; ++t) lanes[t % kTernaryLanes] += absF32<T>(src, start + j * len + t);
    sums[j] = ternary_reduce_lanes(lanes);
  }
}

// ternary_refine: the trit is non-zero iff |w| > τ, so each round is a masked sum.
template <FloatType T>
float refine(const void* src, size_t start, size_t len, float gamma, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    const uint32_t tau = ternary_threshold_bits(gamma);
    const __m256i vt = _mm256_set1_epi32(int(tau));
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t nonzero = 0, i = 0;
    for (; i + 16 <= len; i += 16)
      for (int h = 0; h < 2; ++h) {
        const __m256 a = abs8<T>(src, start + i + 8 * h);
        const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(a), vt));
        acc[h] = _mm256_add_ps(acc[h], _mm256_and_ps(a, keep));
        nonzero += unsigned(__builtin_popcount(unsigned(_mm256_movemask_ps(keep))));
      }
    float lanes[kTernaryLanes];
    storeLanes(acc[0], acc[1], false, lanes);
    for (; i < len; ++i) {
      const float a = absF32<T>(src, start + i);
      const bool keep = f32_bits(a) > tau;
      lanes[i % kTernaryLanes] += keep ? a : 0.0f;
      nonzero += keep;
    }
    if (nonzero == 0) break;
    gamma = ternary_reduce_lanes(lanes) / float(nonzero);
  }
  return gamma;
}

// Walks element indices in increasing order and says which scale group each is in.
struct GroupCursor {
  size_t group, g = 0, end;
  explicit GroupCursor(size_t groupSize) : group(groupSize), end(groupSize) {}
  size_t at(size_t i) {
    for (; i >= end; end += group) ++g;
    return g;
  }
};

constexpr size_t kPerTensor = SIZE_MAX;
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
// Group thresholds kept at once. A batch (or, with groups not a multiple of 32, a block) needs
// at most 81 (161) groups, plus 3 computed ahead.
constexpr size_t kRing = 256;

// The storage unit of a weight of type T.
template <FloatType T>
using Bits = std::conditional_t<T == FloatType::F32, uint32_t, uint16_t>;  // a GroupCursor over one group

// -t for the 32 weights from element e, as bytes in packs order (restoreOrder<T> puts them in
// index order; byte-wise sums of such rows can be reordered once), for one threshold (magnitude
// bits of type T; signed compares are fine: both sides are below the sign bit). sign(nz, w) = -1
// for a positive w above the threshold, +1 for a negative one, 0 otherwise.
template <FloatType T>
inline __m256i rowNegTritsPacked(const void* src, size_t e, __m256i thr) {
  if constexpr (T == FloatType::F32) {
    const __m256i* p = reinterpret_cast<const __m256i*>(static_cast<const uint32_t*>(src) + e);
    __m256i u[4];
    for (int j = 0; j < 4; ++j) {
      const __m256i v = _mm256_loadu_si256(p + j);
      u[j] = _mm256_sign_epi32(_mm256_cmpgt_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x7FFFFFFF)), thr), v);
    }
    return _mm256_packs_epi16(_mm256_packs_epi32(u[0], u[1]), _mm256_packs_epi32(u[2], u[3]));
  } else {
    const __m256i* p = reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(src) + e);
    __m256i u[2];
    for (int j = 0; j < 2; ++j) {
      const __m256i v = _mm256_loadu_si256(p + j);
      u[j] = _mm256_sign_epi16(_mm256_cmpgt_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7FFF)), thr), v);
    }
    return _mm256_packs_epi16(u[0], u[1]);
  }
}

// The packs interleave 4-element dwords (f32) or 8-element qwords (16-bit) across the two 128-bit
// lanes; this permutation restores index order.
template <FloatType T>
inline __m256i restoreOrder(__m256i b) {
  if constexpr (T == FloatType::F32) return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  else return _mm256_permute4x64_epi64(b, 0xD8);
}

// The same for a row that crosses a group boundary (groups not a multiple of 32), per element.
inline __m256i rowNegTritsMixed(const void* src, FloatType type, size_t e, GroupCursor& cur, const uint32_t* ring) {
  alignas(32) int8_t u[32];
  for (size_t m = 0; m < 32; ++m) u[m] = int8_t(1 - ternary_code_raw(src, type, e + m, ring[cur.at(e + m) % kRing]));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(u));
}

// Blocks per batch: thresholds of the groups a batch touches are computed just before it, so the
// weights are read twice while they are still in L1/L2.
constexpr size_t kBatchBlocks = 16;

// A row's threshold as one dword (a 16-bit threshold twice) for a dword broadcast.
template <FloatType T>
inline uint32_t rowThreshold(uint32_t t) {
  return T == FloatType::F32 ? t : t | t << 16;
}

// Packs blocks [b0, b1) whose rows each lie in one group; rowThr[r] is the threshold of the
// batch's row r.
// byte = Σ_k w_k·c_k = Σ_k w_k (1 - u_k) = bias - Σ_k w_k·u_k, with |Σ w_k·u_k| <= bias < 128.
template <FloatType T, unsigned Per>
void packBlocks(const void* src, size_t b0, size_t b1, const uint32_t* rowThr, uint8_t* packed) {
  for (size_t blk = b0; blk < b1; ++blk) {
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 5
    for (unsigned k = 0; k < Per; ++k) {
      const size_t r = blk * Per + k;
      // The next batch's pass 1 would otherwise wait for memory: fetch its rows now.
      const char* ahead = static_cast<const char*>(src) + 32 * (r + kBatchBlocks * Per) * sizeof(Bits<T>);
      for (size_t line = 0; line < 32 * sizeof(Bits<T>); line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
      const __m256i u = rowNegTritsPacked<T>(src, 32 * r, _mm256_set1_epi32(int(rowThr[r - b0 * Per])));
      acc = _mm256_add_epi8(acc, _mm256_sign_epi8(_mm256_set1_epi8(int8_t(Per == 5 ? kPow3[k] : 1u << (2 * k))), u));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed + 32 * blk), _mm256_sub_epi8(_mm256_set1_epi8(Per == 5 ? 121 : 85), restoreOrder<T>(acc)));
  }
}

template <FloatType T, unsigned Per>
void encode(const void* src, size_t n, size_t group, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales) {
  constexpr size_t blockN = 32u * Per;
  const size_t blocks = n / blockN;
  const bool perTensor = tensorScale >= 0.0f;
  const size_t groups = perTensor ? 1 : (n + group - 1) / group;
  // Rows within one group (always, unless the group size is not a multiple of 32) take the
  // fast path, with one threshold per row.
  const bool uniform = perTensor || group % 32 == 0;
  // Thresholds of the groups computed so far, by group index mod kRing (no heap: a job's fresh
  // threads would fault in every new page).
  uint32_t ring[kRing];
  size_t ready = 0;
  auto finish = [&](float gamma) {  // γ of group `ready` -> its scale and threshold
    if (!perTensor) scales[ready] = ternary_scale_bits(gamma);
    ring[ready++ % kRing] = ternary_threshold_for(T, ternary_threshold_bits(gamma));
  };
  auto finish4 = [&](const float* sums, size_t len) {  // finish() for 4 groups at once (no :opt)
    const __m128 gamma = _mm_div_ps(_mm_loadu_ps(sums), _mm_set1_ps(float(len)));
    const __m128i s16 = _mm_cvtps_ph(gamma, _MM_FROUND_TO_NEAREST_INT);  // F16C: f32_to_f16_bits
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(s16, _mm_set1_epi16(0x7C00)), _mm_set1_epi16(0x7C00))) & 0xFF) {
      for (int j = 0; j < 4; ++j) finish(sums[j] / float(len));  // an overflow: the scalar path reports it
      return;
    }
    _mm_storel_epi64(reinterpret_cast<__m128i*>(scales + ready), s16);
    // ternary_threshold_bits, 4 lanes: the exact product in double, rounded down to f32.
    const __m256d exact = _mm256_mul_pd(_mm256_cvtps_pd(_mm_add_ps(gamma, _mm_set1_ps(kTernaryEps))), _mm256_set1_pd(0.5 + 0x1p-25));
    const __m128 rounded = _mm256_cvtpd_ps(exact);
    const __m256i above = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_cvtps_pd(rounded), exact, _CMP_GT_OQ));
    const __m128i tau = _mm_add_epi32(_mm_castps_si128(rounded), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(above, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6))));
    __m128i t = tau;  // ternary_threshold_for
    if constexpr (T == FloatType::BF16) t = _mm_srli_epi32(tau, 16);
    if constexpr (T == FloatType::F16) {
      const __m128i h = _mm_cvtps_ph(_mm_castsi128_ps(tau), _MM_FROUND_TO_NEAREST_INT);
      t = _mm_add_epi32(_mm_cvtepu16_epi32(h), _mm_cmpgt_epi32(_mm_castps_si128(_mm_cvtph_ps(h)), tau));
    }
    alignas(16) uint32_t out[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(out), t);
    for (int j = 0; j < 4; ++j) ring[ready++ % kRing] = out[j];
  };
  auto prepare = [&](size_t last) {  // thresholds (and scales) of groups up to `last`, or a few more
    if (perTensor) {
      if (ready == 0) finish(tensorScale);
      return;
    }
    while (ready <= last && ready < groups) {
      const size_t start = ready * group, len = std::min(group, n - start);
      float sums[4];
      const int count = start + 4 * group <= n ? 4 : 1;
      if (count == 4) absSums<T, 4>(src, start, len, sums);
      else absSums<T, 1>(src, start, len, sums);
      if (count == 4 && rounds == 0) finish4(sums, len);
      else
        for (int j = 0; j < count; ++j) finish(refine<T>(src, start + j * len, len, sums[j] / float(len), rounds));
    }
  };

  GroupCursor cur(perTensor ? kPerTensor : group);
  alignas(32) uint32_t rowThr[kBatchBlocks * Per];
  for (size_t b0 = 0; b0 < blocks; b0 += kBatchBlocks) {
    const size_t b1 = std::min(blocks, b0 + kBatchBlocks);
    if (uniform) {
      prepare(perTensor ? 0 : (b1 * blockN - 1) / group);
      // Row r of the batch lies in group (b0·Per + r) / (group / 32).
      const size_t perGroup = perTensor ? kPerTensor : group / 32;
      size_t g = perTensor ? 0 : b0 * Per / perGroup, left = perTensor ? kPerTensor : perGroup - b0 * Per % perGroup;
      for (size_t r = 0; r < (b1 - b0) * Per; ++r) {
        rowThr[r] = rowThreshold<T>(ring[g % kRing]);
        if (--left == 0) {
          ++g;
          left = perGroup;
        }
      }
      packBlocks<T, Per>(src, b0, b1, rowThr, packed);
      continue;
    }
    for (size_t blk = b0; blk < b1; ++blk) {
      prepare(((blk + 1) * blockN - 1) / group);
      __m256i acc = _mm256_setzero_si256();
      for (unsigned k = 0; k < Per; ++k) {
        const __m256i u = rowNegTritsMixed(src, T, blk * blockN + 32u * k, cur, ring);
        acc = _mm256_add_epi8(acc, _mm256_sign_epi8(_mm256_set1_epi8(int8_t(Per == 5 ? kPow3[k] : 1u << (2 * k))), u));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed + 32 * blk), _mm256_sub_epi8(_mm256_set1_epi8(Per == 5 ? 121 : 85), acc));
    }
  }
  prepare(groups - 1);
  const size_t done = blocks * blockN;
  uint8_t codes[blockN];
  for (size_t i = done; i < n; ++i) codes[i - done] = ternary_code_raw(src, T, i, ring[cur.at(i) % kRing]);
  ternary_pack_tail(codes, n - done, Per == 5 ? 3 : 2, packed + 32 * blocks);
}

template <FloatType T>
void encode(const void* src, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales) {
  if (packing == 3) encode<T, 5>(src, n, group, tensorScale, rounds, packed, scales);
  else encode<T, 4>(src, n, group, tensorScale, rounds, packed, scales);
}

// Output bits of code c (0..3; 3 only in corrupt p2 data) for scale s: the reference's
// float(c - 1) * s, rounded to type T.
template <FloatType T>
uint32_t valueBits(unsigned c, float s) {
  uint32_t v = 0;
  store_f32_bits(&v, T, 0, f32_bits(float(int(c) - 1) * s));
  return v;
}

// Writes the 16 values of codes c (16-bit lanes) at element e, through a table of the 4 values.
template <FloatType T>
inline void storeValues(void* out, size_t e, __m256i c, __m256i table) {
  if constexpr (T == FloatType::F32) {
    float* o = static_cast<float*>(out) + e;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm256_permutevar8x32_epi32(table, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(c))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8), _mm256_permutevar8x32_epi32(table, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(c, 1))));
  } else {
    // Byte indices 2c, 2c + 1 into the 4 x 16-bit table.
    const __m256i idx = _mm256_add_epi16(_mm256_mullo_epi16(c, _mm256_set1_epi16(0x0202)), _mm256_set1_epi16(0x0100));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(out) + e), _mm256_shuffle_epi8(table, idx));
  }
}

template <FloatType T>
__m256i valueTable(float s) {
  const uint32_t v0 = valueBits<T>(0, s), v1 = valueBits<T>(1, s), v2 = valueBits<T>(2, s), v3 = valueBits<T>(3, s);
  if constexpr (T == FloatType::F32) return _mm256_setr_epi32(int(v0), int(v1), int(v2), int(v3), 0, 0, 0, 0);
  else return _mm256_set1_epi64x(int64_t(uint64_t(v0) | uint64_t(v1) << 16 | uint64_t(v2) << 32 | uint64_t(v3) << 48));
}

template <FloatType T>
unsigned decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, void* out) {
  const bool perTensor = tensorScale >= 0.0f;
  auto scale = [&](size_t g) { return perTensor ? tensorScale : bits_f32(f16_to_f32_bits(scales[g])); };
  auto put = [&](size_t i, unsigned c, size_t g) { store_f32_bits(out, T, i, f32_bits(float(int(c) - 1) * scale(g))); };

  const unsigned per = ternary_per_byte(packing);
  const size_t blockN = 32u * per, blocks = n / blockN;
  GroupCursor cur(perTensor ? kPerTensor : group);
  size_t tableGroup = SIZE_MAX;
  __m256i table = _mm256_setzero_si256();
  // ternary_byte_fault over the blocks: p3 keeps the byte-wise max (> 242 is bad), p2 ORs
  // b & (b >> 1), whose even bits are set by a code 3 (the 16-bit shift's carry lands in bit 7).
  __m256i check = _mm256_setzero_si256();
  for (size_t blk = 0; blk < blocks; ++blk) {
    const __m128i* p = reinterpret_cast<const __m128i*>(packed + 32 * blk);
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    check = packing == 3 ? _mm256_max_epu8(check, bytes) : _mm256_or_si256(check, _mm256_and_si256(bytes, _mm256_srli_epi16(bytes, 1)));
    __m256i v[2] = {_mm256_cvtepu8_epi16(_mm256_castsi256_si128(bytes)), _mm256_cvtepu8_epi16(_mm256_extracti128_si256(bytes, 1))};
    for (unsigned k = 0; k < per; ++k) {
      __m256i c[2];
      for (int j = 0; j < 2; ++j) {
        if (packing == 3) {  // c = v mod 3, v = v / 3 (v * 21846 >> 16 is exact below 2^15)
          const __m256i q = _mm256_mulhi_epu16(v[j], _mm256_set1_epi16(21846));
          c[j] = _mm256_sub_epi16(v[j], _mm256_add_epi16(q, _mm256_add_epi16(q, q)));
          v[j] = q;
        } else {
          c[j] = _mm256_and_si256(v[j], _mm256_set1_epi16(3));
          v[j] = _mm256_srli_epi16(v[j], 2);
        }
      }
      const size_t e = blk * blockN + 32u * k;
      const size_t g = cur.at(e);
      if (e + 32 <= cur.end) {
        if (g != tableGroup) table = valueTable<T>(scale(tableGroup = g));
        storeValues<T>(out, e, c[0], table);
        storeValues<T>(out, e + 16, c[1], table);
      } else {
        alignas(32) uint16_t codes[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(codes), c[0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 16), c[1]);
        for (size_t m = 0; m < 32; ++m) put(e + m, codes[m], cur.at(e + m));
      }
    }
  }
  for (size_t i = blocks * blockN; i < n; ++i) {
    const size_t t = i - blocks * blockN;
    unsigned byte = packed[32 * blocks + t / per];
    for (size_t k = t % per; k > 0; --k) byte = packing == 3 ? byte / 3u : byte >> 2;
    put(i, packing == 3 ? byte % 3u : byte & 3u, cur.at(i));
  }
  const __m256i bad = packing == 3 ? _mm256_cmpeq_epi8(_mm256_max_epu8(check, _mm256_set1_epi8(char(242))), _mm256_set1_epi8(char(242)))
                                   : _mm256_cmpeq_epi8(_mm256_and_si256(check, _mm256_set1_epi8(0x55)), _mm256_setzero_si256());
  // p3: lanes equal to 242 after max(check, 242) are fine; p2: lanes with no even bit are fine.
  unsigned fault = unsigned(_mm256_movemask_epi8(bad)) != 0xFFFFFFFFu ? kFaultCode : 0u;
  for (size_t b = 32 * blocks, end = ternary_packed_bytes(n, packing); b < end; ++b) fault |= ternary_byte_fault(packed[b], packing);
  return fault | (perTensor ? 0u : f16_scales_fault(scales, (n + group - 1) / group));
}

}  // namespace

void ternary_encode(const void* w, FloatType type, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales) {
  switch (type) {
    case FloatType::F32: return encode<FloatType::F32>(w, n, group, packing, tensorScale, rounds, packed, scales);
    case FloatType::BF16: return encode<FloatType::BF16>(w, n, group, packing, tensorScale, rounds, packed, scales);
    case FloatType::F16: return encode<FloatType::F16>(w, n, group, packing, tensorScale, rounds, packed, scales);
  }
}

unsigned ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, void* out, FloatType type) {
  switch (type) {
    case FloatType::F32: return decode<FloatType::F32>(packed, scales, n, group, packing, tensorScale, out);
    case FloatType::BF16: return decode<FloatType::BF16>(packed, scales, n, group, packing, tensorScale, out);
    case FloatType::F16: return decode<FloatType::F16>(packed, scales, n, group, packing, tensorScale, out);
  }
  return 0;
}

}  // namespace tz::avx2

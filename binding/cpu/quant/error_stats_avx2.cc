// The statistics windows (error_stats.h) with AVX2: the four lanes are the four doubles of one
// register per sum, so each lane adds exactly what the scalar reference adds (multiplies and adds
// stay separate: no FMA contraction, CMakeLists.txt). A tail of fewer than four elements is read
// zero-padded: zeros add nothing to any sum.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "../runtime/kernels.h"
#include "error_stats.h"

namespace tz::avx2 {

namespace {

// Elements i..i+3 of p as doubles (exact).
template <FloatType T>
__m256d Load4(const void* p, size_t i) {
  if constexpr (T == FloatType::F32) return _mm256_cvtps_pd(_mm_loadu_ps(static_cast<const float*>(p) + i));
  const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
  if constexpr (T == FloatType::BF16) return _mm256_cvtps_pd(_mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16)));
  return _mm256_cvtps_pd(_mm_cvtph_ps(h));
}

// The last n < 4 elements from i, zero-padded.
template <FloatType T>
__m256d LoadTail(const void* p, size_t i, size_t n) {
  alignas(16) uint8_t tail[16] = {};
  const size_t size = float_type_bytes(T);
  std::memcpy(tail, static_cast<const uint8_t*>(p) + i * size, n * size);
  return Load4<T>(tail, 0);
}

double LaneSum(__m256d v) {
  const __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
  return (_mm_cvtsd_f64(lo) + _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo))) + (_mm_cvtsd_f64(hi) + _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi)));
}

double LaneMax(__m256d v) {
  alignas(32) double l[4];
  _mm256_store_pd(l, v);
  return std::max(std::max(l[0], l[1]), std::max(l[2], l[3]));
}

const __m256d kAbs = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFF));

template <FloatType T>
void ErrorWindow(const void* a, const void* b, size_t n, ErrorSums* out) {
  __m256d signal = _mm256_setzero_pd(), noise = signal, dot = signal, recon = signal, peak = signal, nan = signal;
  const auto add = [&](__m256d x, __m256d y) {
    const __m256d d = _mm256_sub_pd(x, y), ad = _mm256_and_pd(d, kAbs);
    signal = _mm256_add_pd(signal, _mm256_mul_pd(x, x));
    noise = _mm256_add_pd(noise, _mm256_mul_pd(d, d));
    dot = _mm256_add_pd(dot, _mm256_mul_pd(x, y));
    recon = _mm256_add_pd(recon, _mm256_mul_pd(y, y));
    peak = _mm256_max_pd(ad, peak);  // a NaN |d| leaves peak (max_pd gives its second operand)
    nan = _mm256_or_pd(nan, _mm256_cmp_pd(ad, ad, _CMP_UNORD_Q));
  };
  size_t i = 0;
  for (; i + 4 <= n; i += 4) add(Load4<T>(a, i), Load4<T>(b, i));
  if (i < n) add(LoadTail<T>(a, i, n - i), LoadTail<T>(b, i, n - i));
  const bool anyNan = _mm256_movemask_pd(nan) != 0;
  *out = {canonical_nan(LaneSum(signal)), canonical_nan(LaneSum(noise)), canonical_nan(LaneSum(dot)), canonical_nan(LaneSum(recon)), anyNan ? __builtin_nan("") : LaneMax(peak)};
}

template <FloatType T>
void StatsWindow(const void* w, size_t n, WeightStats* out) {
  const __m256d limit = _mm256_set1_pd(double(std::numeric_limits<float>::max()));
  __m256d absSum = _mm256_setzero_pd(), peak = absSum;
  uint64_t nonFinite = 0;
  const auto add = [&](__m256d x, unsigned lanes) {
    const __m256d ax = _mm256_and_pd(x, kAbs);
    const __m256d finite = _mm256_cmp_pd(ax, limit, _CMP_LE_OQ);  // false for Inf and NaN
    const __m256d kept = _mm256_and_pd(ax, finite);                 // 0 for the others
    absSum = _mm256_add_pd(absSum, kept);
    peak = _mm256_max_pd(peak, kept);
    nonFinite += __builtin_popcount(~unsigned(_mm256_movemask_pd(finite)) & ((1u << lanes) - 1));
  };
  size_t i = 0;
  for (; i + 4 <= n; i += 4) add(Load4<T>(w, i), 4);
  if (i < n) add(LoadTail<T>(w, i, n - i), unsigned(n - i));
  *out = {nonFinite, LaneSum(absSum), float(LaneMax(peak))};
}

}  // namespace

void error_window(const void* a, const void* b, FloatType type, size_t n, ErrorSums* out) {
  if (type == FloatType::F32) ErrorWindow<FloatType::F32>(a, b, n, out);
  else if (type == FloatType::BF16) ErrorWindow<FloatType::BF16>(a, b, n, out);
  else ErrorWindow<FloatType::F16>(a, b, n, out);
}

void stats_window(const void* w, FloatType type, size_t n, WeightStats* out) {
  if (type == FloatType::F32) StatsWindow<FloatType::F32>(w, n, out);
  else if (type == FloatType::BF16) StatsWindow<FloatType::BF16>(w, n, out);
  else StatsWindow<FloatType::F16>(w, n, out);
}

}  // namespace tz::avx2

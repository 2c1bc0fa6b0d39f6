#include "error_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tz {

namespace {

// Element i of F32/BF16/F16 data as f32 (exact).
inline float load(const void* p, FloatType t, size_t i) {
  const uint32_t bits = load_f32_bits(p, t, i);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

void add_error_sums(const float* a, const float* b, size_t n, ErrorSums& s) { add_error_sums(a, b, FloatType::F32, n, s); }

void add_error_sums(const void* a, const void* b, FloatType type, size_t n, ErrorSums& s) {
  double signal = 0, noise = 0, dot = 0, recon = 0, maxAbs = s.maxAbs;
  for (size_t i = 0; i < n; ++i) {
    const double x = load(a, type, i), y = load(b, type, i), d = x - y;
    signal += x * x;
    noise += d * d;
    dot += x * y;
    recon += y * y;
    if (!(std::fabs(d) <= maxAbs)) maxAbs = std::fabs(d);  // also propagates NaN
  }
  s.signal += signal;
  s.noise += noise;
  s.dot += dot;
  s.recon += recon;
  s.maxAbs = maxAbs;
}

WeightStats weight_stats(const float* w, size_t n) { return weight_stats(w, FloatType::F32, n); }

WeightStats weight_stats(const void* w, FloatType type, size_t n) {
  WeightStats s;
  for (size_t i = 0; i < n; ++i) {
    const float x = load(w, type, i);
    if (std::isfinite(x)) {
      s.absSum += std::fabs(double(x));
      s.absMax = std::max(s.absMax, std::fabs(x));
    } else {
      ++s.nonFinite;
    }
  }
  return s;
}

}  // namespace tz

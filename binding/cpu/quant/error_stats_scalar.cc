// The scalar reference of the statistics windows (error_stats.h): four lanes, element i in lane
// i mod 4, one element at a time.
#include <cmath>
#include <cstring>

#include "../runtime/kernels.h"
#include "error_stats.h"

namespace tz::scalar {

namespace {

double Load(const void* p, FloatType t, size_t i) {
  const uint32_t bits = load_f32_bits(p, t, i);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

double LaneSum(const double* v) { return (v[0] + v[1]) + (v[2] + v[3]); }

}  // namespace

void error_window(const void* a, const void* b, FloatType type, size_t n, ErrorSums* out) {
  double signal[4] = {}, noise[4] = {}, dot[4] = {}, recon[4] = {}, peak = 0;
  bool nan = false;
  for (size_t i = 0; i < n; ++i) {
    const double x = Load(a, type, i), y = Load(b, type, i), d = x - y, ad = std::fabs(d);
    signal[i & 3] += x * x;
    noise[i & 3] += d * d;
    dot[i & 3] += x * y;
    recon[i & 3] += y * y;
    if (ad != ad) nan = true;
    else if (ad > peak) peak = ad;
  }
  *out = {canonical_nan(LaneSum(signal)), canonical_nan(LaneSum(noise)), canonical_nan(LaneSum(dot)), canonical_nan(LaneSum(recon)), nan ? __builtin_nan("") : peak};
}

void stats_window(const void* w, FloatType type, size_t n, WeightStats* out) {
  double absSum[4] = {}, peak = 0;
  uint64_t nonFinite = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = std::fabs(Load(w, type, i));
    if (!std::isfinite(x)) {
      ++nonFinite;
      continue;
    }
    absSum[i & 3] += x;
    if (x > peak) peak = x;
  }
  *out = {nonFinite, LaneSum(absSum), float(peak)};
}

}  // namespace tz::scalar

#include "error_stats.h"

#include <algorithm>
#include <cmath>

namespace tz {

void add_error_sums(const float* a, const float* b, size_t n, ErrorSums& s) {
  double signal = 0, noise = 0, dot = 0, recon = 0, maxAbs = s.maxAbs;
  for (size_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i], d = x - y;
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

WeightStats weight_stats(const float* w, size_t n) {
  WeightStats s;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(w[i])) {
      s.absSum += std::fabs(double(w[i]));
      s.absMax = std::max(s.absMax, std::fabs(w[i]));
    } else {
      ++s.nonFinite;
    }
  }
  return s;
}

}  // namespace tz

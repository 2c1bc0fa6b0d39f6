// Error statistics of a reconstruction, accumulated in double in a fixed order (scalar only), so
// the metrics written into a container are identical on every CPU path and thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../runtime/float_bits.h"

namespace tz {

struct ErrorSums {
  double signal = 0;  // sum a^2
  double noise = 0;   // sum (a - b)^2
  double dot = 0;     // sum a*b
  double recon = 0;   // sum b^2
  double maxAbs = 0;  // max |a - b|
};

// Adds the statistics of original a against reconstruction b (n elements) to s; the typed form
// reads F32, BF16 or F16 elements (each exactly an f32), with the same result.
void add_error_sums(const float* a, const float* b, size_t n, ErrorSums& s);
void add_error_sums(const void* a, const void* b, FloatType type, size_t n, ErrorSums& s);

struct WeightStats {
  uint64_t nonFinite = 0;  // NaN or infinite values
  double absSum = 0;       // sum of |w| over the finite values, in index order
  float absMax = 0;        // max |w| over the finite values
};

WeightStats weight_stats(const float* w, size_t n);
WeightStats weight_stats(const void* w, FloatType type, size_t n);

}  // namespace tz

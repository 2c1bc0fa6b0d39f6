// Error statistics of a reconstruction, and the statistics lossy methods need before encoding,
// accumulated in double in a fixed order: windows of kStatsWindow elements, each summed in four
// interleaved lanes (element i of a window in lane i mod 4; lane sums added as (0+1)+(2+3)), then
// the windows added in order. Each element is exactly an f32; its products and differences are
// taken in double. The order depends only on the length, so the metrics written into a container
// are identical on every CPU path and thread count, and the same whether summed on one thread or
// many. A window is a kernel row (error_window, stats_window: kernels.h; scalar reference in
// error_stats_scalar.cc, AVX2 in error_stats_avx2.cc).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../runtime/float_bits.h"
#include "../runtime/job_context.h"

namespace tz {

inline constexpr size_t kStatsWindow = size_t(1) << 16;

struct ErrorSums {
  double signal = 0;  // sum a^2
  double noise = 0;   // sum (a - b)^2
  double dot = 0;     // sum a*b
  double recon = 0;   // sum b^2
  double maxAbs = 0;  // max |a - b|; NaN when any a - b is NaN
};

struct WeightStats {
  uint64_t nonFinite = 0;  // NaN or infinite values
  double absSum = 0;       // sum of |w| over the finite values
  float absMax = 0;        // max |w| over the finite values
};

// A NaN result written as the one quiet NaN, so that every path writes the same bits.
inline double canonical_nan(double x) { return x == x ? x : __builtin_nan(""); }

// The statistics of original a against reconstruction b (n elements of F32, BF16 or F16, each
// exactly an f32): in a job (ctx) on up to `threads` threads, or without one on the caller's.
ErrorSums error_sums(const void* a, const void* b, FloatType type, size_t n, unsigned threads = 1, JobContext* ctx = nullptr);

WeightStats weight_stats(const void* w, FloatType type, size_t n, unsigned threads = 1, JobContext* ctx = nullptr);

}  // namespace tz

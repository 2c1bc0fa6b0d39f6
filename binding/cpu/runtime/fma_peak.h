// The FMA limit benchmarks judge compute-bound kernels against (fma_peak_avx2.cc).
#pragma once

namespace tz {

// f32 GFLOP/s of 8-wide FMAs on `threads` threads over about `seconds` (AVX2/FMA CPUs only).
double fma_peak_gflops(unsigned threads, double seconds);

}  // namespace tz

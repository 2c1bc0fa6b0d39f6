// The machine's FMA limit for benchmarks: ten independent chains of 8-wide FMAs per thread, enough
// to keep every FMA pipe busy whatever its latency.
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "fma_peak.h"

namespace tz {

namespace {

// 10^6 FMAs on chains a[0..9], in registers (no calls inside, so nothing is spilled).
__attribute__((noinline)) void burst(__m256* a) {
  __m256 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9];
  const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
  for (int i = 0; i < 100000; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c);
    a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c);
    a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c);
    a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c);
  }
  a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7, a[8] = a8, a[9] = a9;
}

// FMAs per second on this thread over about `seconds` (the chains converge: x -> 0.9999x + 1e-4).
double run(double seconds) {
  __m256 a[10];
  for (int k = 0; k < 10; ++k) a[k] = _mm256_set1_ps(1.0f + 0.1f * float(k));
  const auto start = std::chrono::steady_clock::now();
  double fmas = 0, elapsed = 0;
  do {
    burst(a);
    fmas += 1e6;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  alignas(32) float out[8];
  _mm256_store_ps(out, a[0]);
  return out[0] > 0 ? fmas / elapsed : 0;  // uses the chains, so they are computed
}

}  // namespace

double fma_peak_gflops(unsigned threads, double seconds) {
  std::vector<double> rate(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back([&, t] { rate[t] = run(seconds); });
  for (auto& th : pool) th.join();
  double total = 0;
  for (double r : rate) total += r;
  return total * 16 / 1e9;  // 8 lanes x 2 flops per FMA
}

}  // namespace tz

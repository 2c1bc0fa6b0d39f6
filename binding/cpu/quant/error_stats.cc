#include "error_stats.h"

#include <algorithm>
#include <vector>

#include "../runtime/kernels.h"
#include "../runtime/parallel.h"

namespace tz {

namespace {

// max so far: a NaN, once seen, stays.
inline void KeepMax(double& m, double x) {
  if (!(x <= m) && m == m) m = x;
}

void Add(ErrorSums& s, const ErrorSums& w) {
  s.signal += w.signal;
  s.noise += w.noise;
  s.dot += w.dot;
  s.recon += w.recon;
  KeepMax(s.maxAbs, w.maxAbs);
}

void Add(WeightStats& s, const WeightStats& w) {
  s.nonFinite += w.nonFinite;
  s.absSum += w.absSum;
  s.absMax = std::max(s.absMax, w.absMax);
}

// Every window's statistics (on threads), then added in window order.
template <class Stats, class Window>
Stats OverWindows(size_t n, unsigned threads, JobContext* ctx, Window window) {
  std::vector<Stats> parts((n + kStatsWindow - 1) / kStatsWindow);
  const auto range = [&](size_t b, size_t e) {
    for (size_t w = b; w < e; w += kStatsWindow) parts[w / kStatsWindow] = window(w, std::min(e, w + kStatsWindow));
  };
  if (ctx) parallel_for(n, 16 * kStatsWindow, threads, *ctx, range, false);
  else range(0, n);
  Stats s;
  for (const Stats& p : parts) Add(s, p);
  return s;
}

}  // namespace

ErrorSums error_sums(const void* a, const void* b, FloatType type, size_t n, unsigned threads, JobContext* ctx) {
  const KernelTable& k = kernels();
  const size_t size = float_type_bytes(type);
  return OverWindows<ErrorSums>(n, threads, ctx, [&](size_t s, size_t e) {
    ErrorSums w;
    k.error_window(static_cast<const uint8_t*>(a) + s * size, static_cast<const uint8_t*>(b) + s * size, type, e - s, &w);
    return w;
  });
}

WeightStats weight_stats(const void* w, FloatType type, size_t n, unsigned threads, JobContext* ctx) {
  const KernelTable& k = kernels();
  const size_t size = float_type_bytes(type);
  return OverWindows<WeightStats>(n, threads, ctx, [&](size_t s, size_t e) {
    WeightStats ws;
    k.stats_window(static_cast<const uint8_t*>(w) + s * size, type, e - s, &ws);
    return ws;
  });
}

}  // namespace tz

// The Lloyd driver of kmeans.h: deterministic subsamples and k-means++ initialisation, parallel assignment
// in fixed chunks, a serial update in point order (so no result depends on the thread count),
// and deterministic empty-cluster repair.
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "../runtime/job_context.h"
#include "../runtime/kernels.h"
#include "kmeans.h"
#include "../runtime/parallel.h"

namespace tz {

void KmeansCentroids::set(unsigned dim, unsigned count, const float* values) {
  v = dim;
  k = count;
  c.assign(values, values + size_t(k) * v);
  const unsigned padded = (k + 7) / 8 * 8;
  blocked.assign(size_t(padded) * v, 0.0f);
  norms.assign(padded, INFINITY);
  for (unsigned j = 0; j < k; ++j) {
    norms[j] = kmeans_norm(values + size_t(j) * v, v);
    for (unsigned i = 0; i < v; ++i) blocked[size_t(j / 8) * v * 8 + i * 8 + j % 8] = values[size_t(j) * v + i];
  }
}

namespace {

// splitmix64: the deterministic generator of the initialisation and the subsample.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return size_t(next() % n); }
};

// `count` distinct indices of [0, n), chosen by a partial Fisher-Yates shuffle (in draw order).
std::vector<size_t> draw(size_t n, size_t count, SplitMix& rng) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  for (size_t i = 0; i < count; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
  idx.resize(count);
  return idx;
}

constexpr size_t kAssignChunk = 4096;

// Points (and weights) of a training set: the caller's, or a deterministic subsample kept in
// index order, copied into `x`/`w` storage.
struct Subset {
  const float* x;
  const float* w;
  size_t n;
  std::vector<float> xs, ws;
};

Subset subset(const float* x, const float* w, size_t n, unsigned v, size_t count, SplitMix& rng) {
  Subset s{x, w, n, {}, {}};
  if (!count || n <= count) return s;
  std::vector<size_t> pick = draw(n, count, rng);
  std::sort(pick.begin(), pick.end());
  s.xs.resize(pick.size() * v);
  if (w) s.ws.resize(pick.size());
  for (size_t i = 0; i < pick.size(); ++i) {
    std::copy(x + pick[i] * v, x + (pick[i] + 1) * v, s.xs.begin() + i * v);
    if (w) s.ws[i] = w[pick[i]];
  }
  s.x = s.xs.data(), s.w = w ? s.ws.data() : nullptr, s.n = pick.size();
  return s;
}

// k-means++: the first centre a seeded draw, each next one drawn with probability proportional
// to w·D² (D: the distance to the nearest centre so far). D² is kept in f32; the draw's sums are
// in double, per fixed chunk and then across chunks in order, so they do not depend on the thread
// count. When every remaining D is 0: the first point not yet a centre. Needs n >= k.
void kmeans_plus_plus(const float* tx, const float* tw, size_t tn, unsigned v, unsigned k, SplitMix& rng, unsigned threads, JobContext& ctx,
                      float* centroids) {
  std::vector<float> nearest(tn, INFINITY);
  std::vector<char> chosen(tn, 0);
  const size_t chunks = (tn + kAssignChunk - 1) / kAssignChunk;
  std::vector<double> chunkTotal(chunks);
  size_t pick = rng.below(tn);
  for (unsigned j = 0;; ++j) {
    const float* cj = tx + pick * v;
    std::copy(cj, cj + v, centroids + size_t(j) * v);
    nearest[pick] = 0;  // a centre is never drawn again
    chosen[pick] = 1;
    if (j + 1 == k) break;
    parallel_for(tn, kAssignChunk, threads, ctx, [&](size_t b, size_t e) {
      double total = 0;
      for (size_t i = b; i < e; ++i) {
        float d2 = 0;
        for (unsigned d = 0; d < v; ++d) {
          const float diff = tx[i * v + d] - cj[d];
          d2 += diff * diff;
        }
        nearest[i] = std::min(nearest[i], tw ? tw[i] * d2 : d2);
        total += nearest[i];
      }
      chunkTotal[b / kAssignChunk] = total;
    });
    double total = 0;
    for (double t : chunkTotal) total += t;
    pick = tn;
    if (total > 0) {
      double target = total * (double(rng.next() >> 11) * 0x1p-53);
      size_t chunk = 0;
      for (; chunk + 1 < chunks && target >= chunkTotal[chunk]; ++chunk) target -= chunkTotal[chunk];
      double run = 0;
      for (size_t i = chunk * kAssignChunk, e = std::min(tn, i + kAssignChunk); i < e; ++i) {
        if (nearest[i] <= 0) continue;
        run += nearest[i];
        pick = i;
        if (run > target) break;
      }
    }
    if (pick == tn) pick = size_t(std::find(chosen.begin(), chosen.end(), 0) - chosen.begin());  // no mass left
  }
}

}  // namespace

void kmeans_assign_all(const KernelTable& kt, const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels, unsigned threads, JobContext& ctx) {
  parallel_for(n, kAssignChunk, threads, ctx, [&](size_t b, size_t e) { kt.kmeans_assign(c, x + b * c.v, e - b, labels + b); });
}

double kmeans_update(const float* x, size_t n, unsigned v, const float* w, const uint32_t* labels, unsigned k, float* centroids,
                     KmeansUpdateScratch& s, unsigned& repaired) {
  s.sums.assign(size_t(k) * v, 0.0);
  s.mass.assign(k, 0.0);
  s.far.resize(n);
  double objective = 0;
  for (size_t i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    const float* xi = x + i * v;
    const float* ci = centroids + size_t(labels[i]) * v;
    double d2 = 0;
    for (unsigned d = 0; d < v; ++d) {
      const double diff = double(xi[d]) - ci[d];
      d2 += diff * diff;
      s.sums[size_t(labels[i]) * v + d] += wi * xi[d];
    }
    s.mass[labels[i]] += wi;
    s.far[i] = wi * d2;
    objective += s.far[i];
  }
  s.order.clear();
  size_t taken = 0;
  for (unsigned j = 0; j < k; ++j) {
    if (s.mass[j] > 0) {
      for (unsigned d = 0; d < v; ++d) centroids[size_t(j) * v + d] = float(s.sums[size_t(j) * v + d] / s.mass[j]);
      continue;
    }
    if (s.order.empty()) {
      s.order.resize(n);
      std::iota(s.order.begin(), s.order.end(), size_t(0));
      std::stable_sort(s.order.begin(), s.order.end(), [&](size_t a, size_t b) { return s.far[a] > s.far[b]; });
    }
    const size_t p = s.order[taken++ % n];
    ++repaired;
    std::copy(x + p * v, x + (p + 1) * v, centroids + size_t(j) * v);
  }
  return objective;
}

void kmeans_lloyd(const KernelTable& kt, const float* x, size_t n, unsigned v, const float* w, unsigned k, unsigned maxIterations, double tolerance,
                  unsigned threads, JobContext& ctx, KmeansResult& r) {
  KmeansCentroids c;
  std::vector<uint32_t> labels(n);
  KmeansUpdateScratch scratch;
  for (unsigned it = 0; it < maxIterations; ++it) {
    c.set(v, k, r.centroids.data());
    kmeans_assign_all(kt, c, x, n, labels.data(), threads, ctx);
    r.objective.push_back(kmeans_update(x, n, v, w, labels.data(), k, r.centroids.data(), scratch, r.repaired));
    ctx.progress(it + 1, maxIterations);
    const size_t m = r.objective.size();
    if (m >= 2 && r.objective[m - 2] > 0 && (r.objective[m - 2] - r.objective[m - 1]) / r.objective[m - 2] < tolerance) break;
    if (m >= 1 && r.objective[m - 1] == 0) break;
  }
}

KmeansResult kmeans_train(const KernelTable& kt, const float* x, size_t n, unsigned v, const float* w, const KmeansOptions& o, unsigned threads,
                          JobContext& ctx, const KmeansLloydFn& lloyd) {
  if (o.k == 0 || v == 0) throw std::invalid_argument("k-means: k and the dimension must be positive");
  SplitMix rng{o.seed};
  // Training set: every point, or a deterministic subsample kept in index order.
  Subset train = subset(x, w, n, v, o.sample, rng);
  const float* tx = train.x;
  const float* tw = train.w;
  const size_t tn = train.n;
  if (tn < o.k) throw std::invalid_argument("k-means: " + std::to_string(tn) + " points cannot make " + std::to_string(o.k) + " centroids");
  KmeansResult r;
  r.centroids.resize(size_t(o.k) * v);
  // k-means++ is k passes over its points, each too short to thread well: on a further subsample
  // it costs O(initSample·k) instead of O(n·k), and the Lloyd iterations do the rest.
  Subset init = subset(tx, tw, tn, v, o.initSample ? std::max<size_t>(o.initSample, o.k) : 0, rng);
  kmeans_plus_plus(init.x, init.w, init.n, v, o.k, rng, threads, ctx, r.centroids.data());

  if (lloyd) lloyd(tx, tn, tw, r);
  else kmeans_lloyd(kt, tx, tn, v, tw, o.k, o.maxIterations, o.tolerance, threads, ctx, r);
  return r;
}

}  // namespace tz

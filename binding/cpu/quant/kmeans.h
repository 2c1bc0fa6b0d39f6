// k-means for vptq (docs/METHODS.md, "k-means"): the shared definition of the assignment kernels
// (scalar reference, AVX2, and CUDA in binding/cuda/kmeans.cu), which must agree on every label,
// and of the Lloyd driver.
//
// Assignment of point x (dimension v) to centroids c_0..c_{k-1}:
//   d_j = fma chain over dims i = 0..v-1 of (m_i · c_j,i), starting from ‖c_j‖², where m_i = -2·x_i
//         (exact) and ‖c_j‖² = fma chain of c_j,i² from 0;
//   label = argmin_j d_j, ties to the smaller j. d_j = ‖x - c_j‖² - ‖x‖² in real arithmetic, so no
//   N x k distance matrix is ever formed, and ‖x‖² is never needed.
// Centroids for SIMD are laid out in blocks of 8: block b holds centroids 8b..8b+7, dimension i of
// them at [b·v·8 + i·8 + lane]; k is padded to a multiple of 8 with centroids whose norm is +inf.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace tz {

struct KmeansCentroids {
  unsigned v = 0, k = 0;       // dimension and number of centroids
  std::vector<float> c;        // k x v, row-major
  std::vector<float> blocked;  // the SIMD layout above (ceil(k/8) blocks)
  std::vector<float> norms;    // ‖c_j‖² for the padded k (+inf for padding)

  void set(unsigned dim, unsigned count, const float* values);
};

// ‖c‖² of one centroid (the defined order).
inline float kmeans_norm(const float* c, unsigned v) {
  float acc = 0.0f;
  for (unsigned i = 0; i < v; ++i) acc = std::fma(c[i], c[i], acc);
  return acc;
}

// d_j of the definition for one point (m = -2x) and one centroid.
inline float kmeans_distance(const float* m, const float* c, unsigned v, float norm) {
  float acc = norm;
  for (unsigned i = 0; i < v; ++i) acc = std::fma(m[i], c[i], acc);
  return acc;
}

struct KernelTable;
class JobContext;

struct KmeansOptions {
  unsigned k = 256;
  unsigned maxIterations = 25;
  double tolerance = 1e-4;  // stop when the objective falls by less than this fraction
  uint64_t seed = 1;
  size_t sample = 0;        // train on at most this many points (a deterministic subsample); 0: all
  size_t initSample = 0;    // k-means++ on at most this many of them (at least k); 0: all
};

struct KmeansResult {
  std::vector<float> centroids;  // k x v
  std::vector<double> objective; // Σ w·‖x - c_label‖² of each assignment, in double
  unsigned repaired = 0;         // empty clusters re-seeded
};

// Runs the Lloyd iterations of kmeans_train on the training points (x, n, w) from r.centroids,
// as kmeans_lloyd does (another device's implementation of it).
using KmeansLloydFn = std::function<void(const float* x, size_t n, const float* w, KmeansResult& r)>;

// Lloyd's k-means on n points of dimension v (weights may be null: all 1), on `threads`
// threads with fixed chunks and a serial update in point order, so the result does not depend
// on the thread count. Assignments use k.kmeans_assign. `lloyd`, when given, replaces
// kmeans_lloyd (the sampling and the k-means++ start stay here).
KmeansResult kmeans_train(const KernelTable& kt, const float* x, size_t n, unsigned v, const float* w, const KmeansOptions& o, unsigned threads,
                          JobContext& ctx, const KmeansLloydFn& lloyd = nullptr);

// Lloyd iterations from r.centroids (k x v): assignment, then the serial update in point order
// (weighted means in double; empty clusters take the farthest points), appending each
// assignment's objective to r.objective, until it falls by less than `tolerance` of itself or
// after maxIterations. kmeans_train's second half; the CUDA Lloyd loop must match it.
void kmeans_lloyd(const KernelTable& kt, const float* x, size_t n, unsigned v, const float* w, unsigned k, unsigned maxIterations, double tolerance,
                  unsigned threads, JobContext& ctx, KmeansResult& r);

// Reusable buffers of kmeans_update (allocated once per training, not per iteration).
struct KmeansUpdateScratch {
  std::vector<double> sums, mass, far;
  std::vector<size_t> order;
};

// One Lloyd update, serial in point order: per cluster the weighted sum of its points (double)
// and its mass, each point's weighted squared distance to its current centroid (in `centroids`,
// k x v), whose sum is returned (the objective of this assignment). Then, in place, each
// non-empty cluster's centroid becomes its weighted mean; the empty ones take the points
// farthest from their centroids (ties: the smaller index), counted in `repaired`.
double kmeans_update(const float* x, size_t n, unsigned v, const float* w, const uint32_t* labels, unsigned k, float* centroids,
                     KmeansUpdateScratch& s, unsigned& repaired);

// Labels of n points for the centroids, on `threads` threads.
void kmeans_assign_all(const KernelTable& kt, const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels, unsigned threads, JobContext& ctx);

}  // namespace tz

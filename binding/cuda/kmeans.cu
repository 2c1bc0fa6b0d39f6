// CUDA k-means kernels (kmeans_kernels.cuh). Built with --fmad=false: the fmaf calls below are
// the definition's fused operations and every other multiply-add stays two roundings, as in
// binding/cpu/quant/kmeans.cc.
#include "kmeans_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr int kThreads = 128;
constexpr unsigned kPointsPerThread = 4;  // each shared-memory centroid load feeds 4 points
constexpr unsigned kTile = 512;           // centroids per shared-memory tile
constexpr unsigned kMaxV = 16;

__global__ void norms(const float* __restrict__ c, unsigned k, unsigned v, float* __restrict__ out) {
  const unsigned j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  float acc = 0.0f;
  for (unsigned i = 0; i < v; ++i) acc = fmaf(c[size_t(j) * v + i], c[size_t(j) * v + i], acc);
  out[j] = acc;
}

// V: the dimension when known at compile time (0: the runtime v).
template <unsigned V>
__global__ void assign(const float* __restrict__ x, size_t n, unsigned vRuntime, const float* __restrict__ c, const float* __restrict__ cn,
                       unsigned k, uint32_t* __restrict__ labels) {
  const unsigned v = V ? V : vRuntime;
  __shared__ float sc[kTile * kMaxV];
  __shared__ float sn[kTile];
  const size_t first = (size_t(blockIdx.x) * blockDim.x + threadIdx.x) * kPointsPerThread;
  float m[kPointsPerThread][kMaxV];
  float best[kPointsPerThread];
  unsigned label[kPointsPerThread];
  for (unsigned p = 0; p < kPointsPerThread; ++p) {
    for (unsigned i = 0; i < v; ++i) m[p][i] = first + p < n ? -2.0f * x[(first + p) * v + i] : 0.0f;
    best[p] = INFINITY;
    label[p] = 0;
  }
  for (unsigned j0 = 0; j0 < k; j0 += kTile) {
    const unsigned count = min(kTile, k - j0);
    __syncthreads();
    for (unsigned q = threadIdx.x; q < count * v; q += blockDim.x) sc[q] = c[size_t(j0) * v + q];
    for (unsigned q = threadIdx.x; q < count; q += blockDim.x) sn[q] = cn[j0 + q];
    __syncthreads();
    for (unsigned jj = 0; jj < count; ++jj) {
      float cj[kMaxV];
      for (unsigned i = 0; i < v; ++i) cj[i] = sc[jj * v + i];
      for (unsigned p = 0; p < kPointsPerThread; ++p) {
        float acc = sn[jj];
        for (unsigned i = 0; i < v; ++i) acc = fmaf(m[p][i], cj[i], acc);
        if (acc < best[p]) {  // strict: ties keep the smaller index
          best[p] = acc;
          label[p] = j0 + jj;
        }
      }
    }
  }
  for (unsigned p = 0; p < kPointsPerThread; ++p)
    if (first + p < n) labels[first + p] = label[p];
}

__global__ void ranges(const uint32_t* __restrict__ sorted, size_t n, uint32_t* __restrict__ start, uint32_t* __restrict__ end) {
  const size_t p = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= n) return;
  const uint32_t l = sorted[p];
  if (p == 0 || sorted[p - 1] != l) start[l] = uint32_t(p);
  if (p + 1 == n || sorted[p + 1] != l) end[l] = uint32_t(p + 1);
}

__global__ void update(const float* __restrict__ x, const float* __restrict__ w, unsigned v, const float* __restrict__ old, unsigned k,
                       const uint32_t* __restrict__ order, const uint32_t* __restrict__ start, const uint32_t* __restrict__ end,
                       float* __restrict__ out, uint32_t* __restrict__ count, double* __restrict__ objective, double* __restrict__ far) {
  const unsigned j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  double sums[kMaxV];
  for (unsigned d = 0; d < v; ++d) sums[d] = 0.0;
  double mass = 0.0, total = 0.0;
  const float* cj = old + size_t(j) * v;
  for (uint32_t q = start[j]; q < end[j]; ++q) {
    const size_t i = order[q];
    const double wi = w ? double(w[i]) : 1.0;
    double d2 = 0.0;
    for (unsigned d = 0; d < v; ++d) {
      const float xi = x[i * v + d];
      const double diff = double(xi) - double(cj[d]);
      d2 = __dadd_rn(d2, __dmul_rn(diff, diff));
      sums[d] = __dadd_rn(sums[d], __dmul_rn(wi, double(xi)));
    }
    mass += wi;
    far[i] = __dmul_rn(wi, d2);
    total += far[i];
  }
  count[j] = end[j] - start[j];
  objective[j] = total;
  if (mass > 0)
    for (unsigned d = 0; d < v; ++d) out[size_t(j) * v + d] = float(sums[d] / mass);
}

unsigned grid(size_t items, size_t perBlock) { return unsigned((items + perBlock - 1) / perBlock); }

}  // namespace

cudaError_t launch_kmeans_norms(const float* dC, unsigned k, unsigned v, float* dNorms, cudaStream_t stream) {
  if (!k) return cudaSuccess;
  norms<<<grid(k, kThreads), kThreads, 0, stream>>>(dC, k, v, dNorms);
  return cudaGetLastError();
}

cudaError_t launch_kmeans_assign(const float* dX, size_t n, unsigned v, const float* dC, const float* dNorms, unsigned k, uint32_t* dLabels,
                                 cudaStream_t stream) {
  if (!n) return cudaSuccess;
  if (!k || v == 0 || v > kMaxV) return cudaErrorInvalidValue;
  const unsigned blocks = grid(n, size_t(kThreads) * kPointsPerThread);
  switch (v) {
    case 4: assign<4><<<blocks, kThreads, 0, stream>>>(dX, n, v, dC, dNorms, k, dLabels); break;
    case 6: assign<6><<<blocks, kThreads, 0, stream>>>(dX, n, v, dC, dNorms, k, dLabels); break;
    case 8: assign<8><<<blocks, kThreads, 0, stream>>>(dX, n, v, dC, dNorms, k, dLabels); break;
    case 12: assign<12><<<blocks, kThreads, 0, stream>>>(dX, n, v, dC, dNorms, k, dLabels); break;
    default: assign<0><<<blocks, kThreads, 0, stream>>>(dX, n, v, dC, dNorms, k, dLabels); break;
  }
  return cudaGetLastError();
}

cudaError_t launch_kmeans_ranges(const uint32_t* dSorted, size_t n, uint32_t* dStart, uint32_t* dEnd, cudaStream_t stream) {
  if (!n) return cudaSuccess;
  ranges<<<grid(n, kThreads), kThreads, 0, stream>>>(dSorted, n, dStart, dEnd);
  return cudaGetLastError();
}

cudaError_t launch_kmeans_update(const float* dX, const float* dW, unsigned v, const float* dOld, unsigned k, const uint32_t* dOrder,
                                 const uint32_t* dStart, const uint32_t* dEnd, float* dNew, uint32_t* dCount, double* dObjective, double* dFar,
                                 cudaStream_t stream) {
  if (!k) return cudaSuccess;
  if (v == 0 || v > kMaxV) return cudaErrorInvalidValue;
  update<<<grid(k, kThreads), kThreads, 0, stream>>>(dX, dW, v, dOld, k, dOrder, dStart, dEnd, dNew, dCount, dObjective, dFar);
  return cudaGetLastError();
}

}  // namespace tz::cuda

// CUDA k-means (definitions in binding/cpu/quant/kmeans.h): the fused assignment, and the update of
// kmeans_lloyd done per cluster over its points in index order (after a stable sort by label),
// so labels and centroids equal the CPU reference's bit for bit.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// ‖c_j‖² of the definition for the k centroids (k x v).
cudaError_t launch_kmeans_norms(const float* dC, unsigned k, unsigned v, float* dNorms, cudaStream_t stream);

// Labels of n points (n x v, v <= 16): argmin of the fma chain from ‖c‖², ties to the smaller index.
cudaError_t launch_kmeans_assign(const float* dX, size_t n, unsigned v, const float* dC, const float* dNorms, unsigned k, uint32_t* dLabels,
                                 cudaStream_t stream);

// Per cluster j, from the points sorted by label (dOrder: point indices, stable, so ascending
// within a cluster; dStart/dEnd: each cluster's range in it): the weighted sums in double in
// point order, the new centroid (when the cluster is not empty) into dNew, the cluster's point
// count into dCount, its objective into dObjective, and each point's weighted squared distance
// to its old centroid dOld into dFar. dW may be null (every weight 1).
cudaError_t launch_kmeans_update(const float* dX, const float* dW, unsigned v, const float* dOld, unsigned k, const uint32_t* dOrder,
                                 const uint32_t* dStart, const uint32_t* dEnd, float* dNew, uint32_t* dCount, double* dObjective, double* dFar,
                                 cudaStream_t stream);

// dStart/dEnd (k entries, zeroed by the caller) from n sorted labels.
cudaError_t launch_kmeans_ranges(const uint32_t* dSorted, size_t n, uint32_t* dStart, uint32_t* dEnd, cudaStream_t stream);

}  // namespace tz::cuda

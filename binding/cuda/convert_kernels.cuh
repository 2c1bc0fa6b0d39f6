// Device-side dtype conversion launchers, shared by the C ABI (api.cu) and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace tz::cuda {

// Element sizes of a conversion kind's source and destination (0 for an unknown kind).
size_t convert_src_size(int kind);
size_t convert_dst_size(int kind);

// Converts n elements from device buffer src to device buffer dst on stream s.
cudaError_t launch_convert(int kind, const void* src, void* dst, size_t n, cudaStream_t s);

}  // namespace tz::cuda

// Device-side ternary launchers (definition in ../cpu/ternary.h), shared by the C ABI and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// Device buffers: w (n floats) -> packed (ternary_packed_bytes) and, when tensorScale < 0, scales
// (ceil(n/group) f16, refined `rounds` times) using `gammas` (ceil(n/group) floats) as scratch.
cudaError_t launch_ternary_encode(const float* w, size_t n, size_t group, unsigned packing, float tensorScale,
                                  unsigned rounds, uint8_t* packed, uint16_t* scales, float* gammas, cudaStream_t s);
cudaError_t launch_ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group,
                                  unsigned packing, float tensorScale, float* out, cudaStream_t s);

}  // namespace tz::cuda

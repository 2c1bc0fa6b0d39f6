// Device-side ternary launchers (definition in ../cpu/ternary.h), shared by the C ABI and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// Device buffers: w (n floats) -> packed (ternary_packed_bytes) and, when tensorScale < 0, scales
// (ceil(n/group) f16, refined `rounds` times) using `gammas` (ceil(n/group) floats) as scratch. A
// scale beyond f16 is written as its Inf bits (the caller refuses it, as the CPU encoders do).
cudaError_t launch_ternary_encode(const float* w, size_t n, size_t group, unsigned packing, float tensorScale,
                                  unsigned rounds, uint8_t* packed, uint16_t* scales, float* gammas, cudaStream_t s);
// Decoding; ORs the DecodeFault bits (../cpu/decode_fault.h) of what it reads into *fault (device).
cudaError_t launch_ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group,
                                  unsigned packing, float tensorScale, float* out, unsigned* fault, cudaStream_t s);

}  // namespace tz::cuda

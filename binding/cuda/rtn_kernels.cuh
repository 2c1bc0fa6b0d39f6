// Device-side rtn launchers (definition in ../cpu/rtn.h), shared by the C ABI and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// Device buffers: w (n floats) -> packed codes (ceil(n·bits/8) bytes) and f16 scales
// (ceil(n/group)); group is a multiple of 8. A scale that overflows f16 is written as its Inf bits
// (the caller refuses it, as the CPU encoders do).
cudaError_t launch_rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales, cudaStream_t s);
// Decoding; ORs the DecodeFault bits (../cpu/decode_fault.h) of what it reads into *fault (device).
cudaError_t launch_rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out, unsigned* fault,
                              cudaStream_t s);

}  // namespace tz::cuda

// CUDA seedlm search (definitions in binding/cpu/quant/seedlm.h): one thread per block of weights,
// every thread running seedlm_trial itself, so the chosen seeds and exponents equal the CPU
// reference's. Launched over ranges of seeds, so a host loop can report progress and stop.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// Sets every block's best error to +inf, its seed and exponent to 0 (before the first seed range).
cudaError_t launch_seedlm_reset(float* dError, uint16_t* dSeed, int32_t* dExp, size_t blocks, cudaStream_t stream);

// Seeds [s0, s1) for `blocks` blocks of C weights (dW, row-major); dTable holds every seed's
// pinv then x - 2^15 rows (SeedlmTables::perSeed, stride 2·C·P floats). Keeps, per block, the
// lowest error so far, its seed and its exponent e (ties: the earlier seed, as seeds ascend).
cudaError_t launch_seedlm_search(unsigned C, unsigned P, const float* dTable, const float* dW, size_t blocks, int eMin, unsigned s0,
                                 unsigned s1, float* dError, uint16_t* dSeed, int32_t* dExp, cudaStream_t stream);

}  // namespace tz::cuda

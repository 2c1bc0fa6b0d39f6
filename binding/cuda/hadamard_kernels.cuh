// Device-side launcher of the :rot rotation (definition in ../cpu/quant/hadamard.h), shared by
// the C ABI and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tz::cuda {

// Device buffers: x (n floats, whole blocks of `block`, a power of two from 2 to 4096) rotated in
// place as hadamard_blocks rotates rows of `period` values (a multiple of block): value i is in
// column (first + i) % period of its row and takes multiplier m[that column] (m: period floats).
// inverse = 0: x <- H·(m ⊙ x), else x <- m ⊙ (H·x). The same bits as the scalar reference.
cudaError_t launch_hadamard(float* x, size_t n, size_t period, size_t block, const float* m, size_t first, unsigned inverse, cudaStream_t s);

}  // namespace tz::cuda

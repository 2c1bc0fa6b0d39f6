// Scalar reference of the hadamard_blocks row (hadamard.h).
#include "hadamard.h"

#include "../runtime/kernels.h"

namespace tz::scalar {

void hadamard_blocks(float* x, size_t n, size_t block, const float* m, unsigned inverse) {
  for (size_t b = 0; b < n; b += block) {
    float* v = x + b;
    if (!inverse)
      for (size_t j = 0; j < block; ++j) v[j] *= m[b + j];
    for (size_t h = 1; h < block; h *= 2) hadamard_stage(v, block, h);
    if (inverse)
      for (size_t j = 0; j < block; ++j) v[j] *= m[b + j];
  }
}

}  // namespace tz::scalar

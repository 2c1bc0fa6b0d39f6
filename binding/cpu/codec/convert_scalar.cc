// Scalar reference for dtype conversion: a loop over the bit-level definitions in float_bits.h.
#include "../runtime/float_bits.h"
#include "../runtime/kernels.h"

namespace tz::scalar {

void f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16_bits(f32_bits(src[i]));
}

void bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bits_f32(bf16_to_f32_bits(src[i]));
}

void f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16_bits(f32_bits(src[i]));
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bits_f32(f16_to_f32_bits(src[i]));
}

}  // namespace tz::scalar

// ternary scalar reference (definition in ternary.h): the division of the definition, literally.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../runtime/kernels.h"
#include "ternary.h"

namespace tz::scalar {

void ternary_encode(const void* src, FloatType type, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales) {
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = bits_f32(load_f32_bits(src, type, i));
  std::vector<uint8_t> codes(n);
  if (tensorScale >= 0.0f) {
    for (size_t i = 0; i < n; ++i) codes[i] = ternary_code(w[i], tensorScale);
  } else {
    for (size_t g = 0, start = 0; start < n; ++g, start += group) {
      const size_t len = std::min(group, n - start);
      const float gamma = ternary_refine(w.data() + start, len, ternary_absmean(w.data() + start, len), rounds);
      scales[g] = ternary_scale_bits(gamma);
      for (size_t i = 0; i < len; ++i) codes[start + i] = ternary_code(w[start + i], gamma);
    }
  }
  ternary_pack(codes.data(), n, packing, packed);
}

unsigned ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, void* out, FloatType type) {
  std::vector<uint8_t> codes(n);
  ternary_unpack_table(packed, n, packing, codes.data());
  for (size_t i = 0; i < n; ++i) {
    const float s = tensorScale >= 0.0f ? tensorScale : bits_f32(f16_to_f32_bits(scales[i / group]));
    store_f32_bits(out, type, i, f32_bits(float(int(codes[i]) - 1) * s));
  }
  unsigned fault = tensorScale >= 0.0f ? 0u : f16_scales_fault(scales, (n + group - 1) / group);
  for (size_t b = 0, bytes = ternary_packed_bytes(n, packing); b < bytes; ++b) fault |= ternary_byte_fault(packed[b], packing);
  return fault;
}

}  // namespace tz::scalar

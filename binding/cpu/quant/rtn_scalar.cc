// rtn scalar reference (definition in rtn.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../codec/bitpack.h"
#include "../runtime/kernels.h"
#include "rtn.h"

namespace tz::scalar {

void rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales) {
  const int qmax = rtn_qmax(bits);
  std::vector<uint8_t> codes(group);
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float* x = w + start;
    float amax = 0.0f;
    for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[i]));
    scales[g] = rtn_scale_bits(amax, bits);
    const float inv = rtn_inverse(bits_f32(f16_to_f32_bits(scales[g])));
    for (size_t i = 0; i < len; ++i) codes[i] = rtn_code(x[i], inv, qmax);
    pack_codes(codes.data(), len, bits, packed + start * bits / 8);
  }
}

unsigned rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out) {
  const int qmax = rtn_qmax(bits);
  std::vector<uint8_t> codes(group);
  uint8_t top = 0;  // the largest code, checked once at the end
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    unpack_codes(packed + start * bits / 8, len, bits, codes.data());
    const float s = bits_f32(f16_to_f32_bits(scales[g]));
    for (size_t i = 0; i < len; ++i) {
      top = std::max(top, codes[i]);
      out[start + i] = float(int(codes[i]) - qmax) * s;
    }
  }
  return (top > 2 * qmax ? kFaultCode : 0u) | f16_scales_fault(scales, (n + group - 1) / group);
}

}  // namespace tz::scalar

// rtn (docs/METHODS.md, "rtn"): symmetric absmax round-to-nearest per group of `group`
// consecutive weights (the last group may be shorter), 2-8 bits, f16 scales. Shared definitions of
// the scalar and AVX2 kernels (declared in kernels.h), which must agree bit for bit.
//
//   qmax = 2^(bits-1) - 1;  s16 = f16(max|w| / qmax) (round to nearest even);  s = f32(s16)
//   q = clamp(round_half_even(w * (1/s)), -qmax, qmax)  (q = 0 when s == 0);  code = q + qmax
//   decode: w' = float(code - qmax) * s
//
// Codes are packed LSB first (bitpack.h), group after group; group must be a multiple of 8 so
// every group starts on a byte boundary. A scale that overflows f16 is an error. Decoding refuses
// (decode_fault.h) a code above 2·qmax (2^bits − 1 fits the bits, not the range) and a scale that
// is negative or not finite: no encoder writes them.
#pragma once
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#if !defined(__CUDACC__)
#include <stdexcept>
#include <string>

#include "decode_fault.h"
#endif

#include "../runtime/float_bits.h"

namespace tz {

TZ_HD int rtn_qmax(unsigned bits) { return (1 << (bits - 1)) - 1; }

// f16 bits of the scale of a group with absolute maximum amax: Inf bits (0x7C00) when it
// overflows f16, which encoders refuse.
TZ_HD uint16_t rtn_scale_f16(float amax, unsigned bits) { return f32_to_f16_bits(f32_bits(amax / float(rtn_qmax(bits)))); }

TZ_HD bool rtn_scale_overflows(uint16_t s16) { return (s16 & 0x7C00u) == 0x7C00u; }

TZ_HD float rtn_inverse(float s) { return s > 0.0f ? 1.0f / s : 0.0f; }

// The code of weight x for inverse scale inv (the reference's operations: std::max, std::min,
// nearbyint; a NaN weight gives the code of INT_MIN, as x86's conversion does).
TZ_HD uint8_t rtn_code(float x, float inv, int qmax) {
  float q = rintf(x * inv);                         // nearest, ties to even (the default mode)
  q = q < float(-qmax) ? float(-qmax) : q;          // std::max(q, -qmax)
  q = float(qmax) < q ? float(qmax) : q;            // std::min(q, qmax)
  return uint8_t((q == q ? int(q) : INT_MIN) + qmax);
}

#if !defined(__CUDACC__)
// f16 scale bits of a group with absolute maximum amax; throws if it overflows f16.
inline uint16_t rtn_scale_bits(float amax, unsigned bits) {
  const uint16_t s16 = rtn_scale_f16(amax, bits);
  if (rtn_scale_overflows(s16))
    throw std::runtime_error("rtn: a group's scale (max |w| = " + std::to_string(amax) + ") overflows f16");
  return s16;
}
#endif

}  // namespace tz

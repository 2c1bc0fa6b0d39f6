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
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "decode_fault.h"
#include "../runtime/float_bits.h"

namespace tz {

inline int rtn_qmax(unsigned bits) { return (1 << (bits - 1)) - 1; }

// f16 scale bits of a group with absolute maximum amax; throws if it overflows f16.
inline uint16_t rtn_scale_bits(float amax, unsigned bits) {
  const uint16_t s16 = f32_to_f16_bits(f32_bits(amax / float(rtn_qmax(bits))));
  if ((s16 & 0x7C00u) == 0x7C00u)
    throw std::runtime_error("rtn: a group's scale (max |w| = " + std::to_string(amax) + ") overflows f16");
  return s16;
}

inline float rtn_inverse(float s) { return s > 0.0f ? 1.0f / s : 0.0f; }

}  // namespace tz

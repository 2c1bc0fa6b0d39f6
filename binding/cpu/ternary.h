// ternary (SPEC.md §3.1, BitNet b1.58 absmean): shared definitions of the scalar, AVX2 and CUDA
// kernels, which must agree bit for bit.
//
//   γ = mean(|w|) over the scale group (or a given per-tensor γ);  t = clamp(round(w / (γ + 1e-8)), -1, 1)
//   round = to nearest, ties to even; division in f32. Group mode stores s16 = f16(γ) (nearest even)
//   and decodes ŵ = t · f32(s16); tensor mode stores γ as f32 and decodes ŵ = t · γ.
//
// The group's sum of |w| is defined in one order so every variant reproduces it exactly: eight
// f32 lanes, element i going to lane i % 8 in index order, then ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)).
//
// Packing of trit codes c = t + 1 ∈ {0, 1, 2}, continuous across groups:
//   p3: 5 codes per byte, byte = c0 + 3·c1 + 9·c2 + 27·c3 + 81·c4 (first element least significant);
//   p2: 4 codes per byte, 2 bits each, LSB first.  A partial last byte is padded with code 1 (zero).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#if !defined(__CUDACC__)
#include <stdexcept>
#include <string>
#endif

#include "float_bits.h"

namespace tz {

constexpr float kTernaryEps = 1e-8f;

TZ_HD unsigned ternary_per_byte(unsigned packing) { return packing == 3 ? 5u : 4u; }
TZ_HD size_t ternary_packed_bytes(size_t n, unsigned packing) { return (n + ternary_per_byte(packing) - 1) / ternary_per_byte(packing); }

// Combines the eight lane sums in the defined order.
TZ_HD float ternary_reduce_lanes(const float* l) {
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// γ of a group of len weights (the defined summation order), in f32.
TZ_HD float ternary_absmean(const float* x, size_t len) {
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < len; ++i) lanes[i % 8] += fabsf(x[i]);
  return ternary_reduce_lanes(lanes) / float(len);
}

// Trit code (t + 1) of one weight for scale γ.
TZ_HD uint8_t ternary_code(float w, float gamma) {
  float q = rintf(w / (gamma + kTernaryEps));  // rintf: nearest, ties to even (default mode)
  q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
  return uint8_t(int(q) + 1);
}

// Packs n codes (values 0..2) into ternary_packed_bytes(n, packing) bytes.
TZ_HD void ternary_pack(const uint8_t* codes, size_t n, unsigned packing, uint8_t* out) {
  const unsigned per = ternary_per_byte(packing);
  for (size_t b = 0, i = 0; i < n; ++b, i += per) {
    unsigned byte = 0;
    for (unsigned k = per; k-- > 0;) {
      const unsigned c = i + k < n ? codes[i + k] : 1u;
      byte = packing == 3 ? byte * 3u + c : (byte << 2) | c;
    }
    out[b] = uint8_t(byte);
  }
}

// Unpacks codes [first, first + n) of a packed stream whose element 0 starts at byte 0.
TZ_HD void ternary_unpack(const uint8_t* packed, size_t n, unsigned packing, uint8_t* codes) {
  const unsigned per = ternary_per_byte(packing);
  for (size_t b = 0, i = 0; i < n; ++b, i += per) {
    unsigned byte = packed[b];
    for (unsigned k = 0; k < per && i + k < n; ++k) {
      if (packing == 3) {
        codes[i + k] = uint8_t(byte % 3u);
        byte /= 3u;
      } else {
        codes[i + k] = uint8_t(byte & 3u);
        byte >>= 2;
      }
    }
  }
}

#if !defined(__CUDACC__)
// f16 bits of a group scale; a scale beyond f16's range is an error (per-tensor mode stores f32).
inline uint16_t ternary_scale_bits(float gamma) {
  const uint16_t s16 = f32_to_f16_bits(f32_bits(gamma));
  if ((s16 & 0x7C00u) == 0x7C00u)
    throw std::runtime_error("ternary: a group's scale (mean |w| = " + std::to_string(gamma) +
                             ") overflows f16; use ternary:tensor, which stores an f32 scale");
  return s16;
}
#endif

}  // namespace tz

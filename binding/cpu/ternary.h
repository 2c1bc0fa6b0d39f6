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
// Packing of trit codes c = t + 1 ∈ {0, 1, 2}, continuous across groups, in blocks of 32 bytes:
//   p3: blocks of 160 codes; byte m of a block holds codes m, m+32, m+64, m+96, m+128 as
//       c0 + 3·c1 + 9·c2 + 27·c3 + 81·c4 (3^5 = 243 <= 256);
//   p2: blocks of 128 codes; byte m holds codes m, m+32, m+64, m+96 at bits 0-1, 2-3, 4-5, 6-7
//       (llama.cpp TQ2_0's qs layout).
// The 32-byte stride lets SIMD pack a whole block with byte-wise arithmetic. After the last
// full block, the remaining codes go 5 (or 4) consecutive per byte, padded with code 1 (zero).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <stdexcept>
#include <string>
#endif

#include "float_bits.h"

namespace tz {

constexpr float kTernaryEps = 1e-8f;

TZ_HD unsigned ternary_per_byte(unsigned packing) { return packing == 3 ? 5u : 4u; }
TZ_HD size_t ternary_packed_bytes(size_t n, unsigned packing) { return (n + ternary_per_byte(packing) - 1) / ternary_per_byte(packing); }
// Codes per 32-byte block: 160 (p3) or 128 (p2). Kernel chunks start on block boundaries.
TZ_HD size_t ternary_block(unsigned packing) { return 32u * ternary_per_byte(packing); }

// Index of the code held by digit k of packed byte b of an n-code stream, or n for padding.
TZ_HD size_t ternary_element(size_t b, unsigned k, size_t n, unsigned packing) {
  const unsigned per = ternary_per_byte(packing);
  const size_t full = n / (32u * per);  // full blocks
  if (b < full * 32) return (b / 32) * 32u * per + 32u * k + b % 32;
  const size_t i = full * 32u * per + (b - full * 32) * per + k;
  return i < n ? i : n;
}

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

// The :opt refinement: `rounds` times, γ becomes the least-squares scale of the trits chosen with
// the current γ, i.e. mean |w| over the weights with a non-zero trit (same lane order as the
// absmean). Neither step can increase the error in exact arithmetic; the bits stay the same.
TZ_HD uint8_t ternary_code(float w, float gamma);
TZ_HD float ternary_refine(const float* x, size_t len, float gamma, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t nonzero = 0;
    for (size_t i = 0; i < len; ++i) {
      const bool keep = ternary_code(x[i], gamma) != 1;
      lanes[i % 8] += keep ? fabsf(x[i]) : 0.0f;
      nonzero += keep;
    }
    if (nonzero == 0) break;
    gamma = ternary_reduce_lanes(lanes) / float(nonzero);
  }
  return gamma;
}

// Trit code (t + 1) of one weight for scale γ.
TZ_HD uint8_t ternary_code(float w, float gamma) {
  float q = rintf(w / (gamma + kTernaryEps));  // rintf: nearest, ties to even (default mode)
  q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
  return uint8_t(int(q) + 1);
}

// Packs n codes (values 0..2) into ternary_packed_bytes(n, packing) bytes (the reference).
TZ_HD void ternary_pack_byte(const uint8_t* codes, size_t n, unsigned packing, size_t b, uint8_t* out) {
  unsigned byte = 0;
  for (unsigned k = ternary_per_byte(packing); k-- > 0;) {
    const size_t i = ternary_element(b, k, n, packing);
    const unsigned c = i < n ? codes[i] : 1u;
    byte = packing == 3 ? byte * 3u + c : (byte << 2) | c;
  }
  out[b] = uint8_t(byte);
}

TZ_HD void ternary_pack(const uint8_t* codes, size_t n, unsigned packing, uint8_t* out) {
  for (size_t b = 0, bytes = ternary_packed_bytes(n, packing); b < bytes; ++b) ternary_pack_byte(codes, n, packing, b, out);
}

// Unpacks the codes of byte b (the reference).
TZ_HD void ternary_unpack_byte(const uint8_t* packed, size_t n, unsigned packing, size_t b, uint8_t* codes) {
  unsigned v = packed[b];
  for (unsigned k = 0; k < ternary_per_byte(packing); ++k) {
    const size_t i = ternary_element(b, k, n, packing);
    if (i < n) codes[i] = uint8_t(packing == 3 ? v % 3u : v & 3u);
    v = packing == 3 ? v / 3u : v >> 2;
  }
}


#if !defined(__CUDACC__)
// Host unpacking through a 256-entry table of the codes in each byte (the same codes as
// ternary_unpack_byte, without a division per element).
struct TernaryUnpackTable {
  uint8_t codes[256][5];
  TernaryUnpackTable(unsigned packing) {
    for (unsigned b = 0; b < 256; ++b) {
      unsigned v = b;
      for (unsigned k = 0; k < 5; ++k) {
        codes[b][k] = uint8_t(packing == 3 ? v % 3u : v & 3u);
        v = packing == 3 ? v / 3u : v >> 2;
      }
    }
  }
};

inline void ternary_unpack_table(const uint8_t* packed, size_t n, unsigned packing, uint8_t* codes) {
  static const TernaryUnpackTable p3(3), p2(2);
  const TernaryUnpackTable& t = packing == 3 ? p3 : p2;
  const unsigned per = ternary_per_byte(packing);
  const size_t block = 32u * per, full = n / block;
  for (size_t blk = 0; blk < full; ++blk)
    for (unsigned m = 0; m < 32; ++m) {
      const uint8_t* c = t.codes[packed[blk * 32 + m]];
      for (unsigned k = 0; k < per; ++k) codes[blk * block + 32u * k + m] = c[k];
    }
  for (size_t b = full * 32, bytes = ternary_packed_bytes(n, packing); b < bytes; ++b) ternary_unpack_byte(packed, n, packing, b, codes);
}

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

// ternary (docs/METHODS.md, "ternary"; BitNet b1.58 absmean): shared definitions of the scalar,
// AVX2 and CUDA kernels, which must agree bit for bit.
//
//   γ = mean(|w|) over the scale group (or a given per-tensor γ);  t = clamp(round(w / (γ + 1e-8)), -1, 1)
//   round = to nearest, ties to even; division in f32. Group mode stores s16 = f16(γ) (nearest even)
//   and decodes ŵ = t · f32(s16); tensor mode stores γ as f32 and decodes ŵ = t · γ. Weights
//   arrive as f32, bf16 or f16 (read exactly as f32); decoded values leave in the same type,
//   rounded to nearest even (±s or 0, so just the scale's bits with the trit's sign).
//
// The group's sum of |w| is defined in one order so every variant reproduces it exactly: sixteen
// f32 lanes, element i going to lane i % 16 in index order, then combined pairwise
// (ternary_reduce_lanes).
//
// Packing of trit codes c = t + 1 ∈ {0, 1, 2}, continuous across groups, in blocks of 32 bytes:
//   p3: blocks of 160 codes; byte m of a block holds codes m, m+32, m+64, m+96, m+128 as
//       c0 + 3·c1 + 9·c2 + 27·c3 + 81·c4 (3^5 = 243 <= 256);
//   p2: blocks of 128 codes; byte m holds codes m, m+32, m+64, m+96 at bits 0-1, 2-3, 4-5, 6-7
//       (llama.cpp TQ2_0's qs layout).
// The 32-byte stride lets SIMD pack a whole block with byte-wise arithmetic. After the last
// full block, the remaining codes go 5 (or 4) consecutive per byte, padded with code 1 (zero).
//
// Decoding refuses (decode_fault.h) what no encoder writes: a p3 byte above 242 (3^5 − 1: its top
// digit would be 3), a p2 code 3 (padding included), and a group scale that is negative or not
// finite.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <stdexcept>
#include <string>

#include "decode_fault.h"
#endif

#include "../runtime/float_bits.h"

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

// The sum of |w| runs in kTernaryLanes f32 lanes: element i of the group goes to lane i % 16, in
// index order. Sixteen lanes let SIMD code split 16-bit weights into even and odd elements without
// shuffles. The lanes are then combined pairwise, in index order.
constexpr unsigned kTernaryLanes = 16;

TZ_HD float ternary_reduce_lanes(const float* l) {
  const float a = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  const float b = ((l[8] + l[9]) + (l[10] + l[11])) + ((l[12] + l[13]) + (l[14] + l[15]));
  return a + b;
}

// γ of a group of len weights (the defined summation order), in f32.
TZ_HD float ternary_absmean(const float* x, size_t len) {
  float lanes[kTernaryLanes] = {};
  for (size_t i = 0; i < len; ++i) lanes[i % kTernaryLanes] += fabsf(x[i]);
  return ternary_reduce_lanes(lanes) / float(len);
}

// The :opt refinement: `rounds` times, γ becomes the least-squares scale of the trits chosen with
// the current γ, i.e. mean |w| over the weights with a non-zero trit (same lane order as the
// absmean). Neither step can increase the error in exact arithmetic; the bits stay the same.
TZ_HD uint8_t ternary_code(float w, float gamma);
TZ_HD float ternary_refine(const float* x, size_t len, float gamma, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    float lanes[kTernaryLanes] = {};
    size_t nonzero = 0;
    for (size_t i = 0; i < len; ++i) {
      const bool keep = ternary_code(x[i], gamma) != 1;
      lanes[i % kTernaryLanes] += keep ? fabsf(x[i]) : 0.0f;
      nonzero += keep;
    }
    if (nonzero == 0) break;
    gamma = ternary_reduce_lanes(lanes) / float(nonzero);
  }
  return gamma;
}

// Trit code (t + 1) of one weight for scale γ, literally as defined (the reference). A NaN weight
// counts as ±∞ of its sign (callers route NaN tensors to lossless; this only keeps every path equal).
TZ_HD uint8_t ternary_code(float w, float gamma) {
  if (w != w) return (f32_bits(w) >> 31) ? 0 : 2;
  float q = rintf(w / (gamma + kTernaryEps));  // rintf: nearest, ties to even (default mode)
  if (q != q) return 1;                        // γ itself NaN: group mode refuses such a scale anyway
  q = q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q);
  return uint8_t(int(q) + 1);
}

// The same trit without a division. With d = γ + 1e-8 (f32, finite, > 0): t = +1 iff
// fl(w / d) > 0.5 (0.5 itself rounds to 0, ties to even), iff w / d > 0.5 + 2^-25 exactly (the
// midpoint above 0.5 rounds down to 0.5), iff w > d·(0.5 + 2^-25), a product that is exact in
// double (24 + 25 significant bits). Rounding it down to f32 gives τ with: t != 0 iff |w| > τ, and
// t takes the sign of w. For non-negative floats, comparing magnitudes is comparing bit patterns.
TZ_HD uint32_t ternary_threshold_bits(float gamma) {
  const double exact = double(gamma + kTernaryEps) * (0.5 + 0x1p-25);
  const float rounded = float(exact);
  return f32_bits(rounded) - (double(rounded) > exact ? 1u : 0u);
}

// τ in the magnitude bits of a source encoding: |w| > τ iff (w's bits & ~sign) > this.
// bf16: w's bits are the top half of its f32 bits, so w > τ iff bf16 bits > τ >> 16. f16: the
// largest f16 <= τ (round down; τ > 0).
TZ_HD uint32_t ternary_threshold_for(FloatType type, uint32_t tau) {
  if (type == FloatType::F32) return tau;
  if (type == FloatType::BF16) return tau >> 16;
  const uint16_t h = f32_to_f16_bits(tau);
  return f16_to_f32_bits(h) > tau ? h - 1u : h;
}

// The code of raw element i (type `type`) for a threshold from ternary_threshold_for.
TZ_HD uint8_t ternary_code_raw(const void* src, FloatType type, size_t i, uint32_t threshold) {
  const bool wide = type == FloatType::F32;
  const uint32_t bits = wide ? static_cast<const uint32_t*>(src)[i] : static_cast<const uint16_t*>(src)[i];
  const uint32_t sign = wide ? 0x80000000u : 0x8000u;
  if ((bits & (sign - 1u)) <= threshold) return 1;
  return (bits & sign) ? 0 : 2;
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

// Packs `count` codes (fewer than a block: the stream's tail) consecutively, padding with code 1.
TZ_HD void ternary_pack_tail(const uint8_t* codes, size_t count, unsigned packing, uint8_t* out) {
  const unsigned per = ternary_per_byte(packing);
  for (size_t b = 0; b * per < count; ++b) {
    unsigned byte = 0;
    for (unsigned k = per; k-- > 0;) {
      const unsigned c = b * per + k < count ? codes[b * per + k] : 1u;
      byte = packing == 3 ? byte * 3u + c : (byte << 2) | c;
    }
    out[b] = uint8_t(byte);
  }
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

// kFaultCode if packed byte b holds a code no encoder writes (the reference of the decoders' check).
inline unsigned ternary_byte_fault(uint8_t b, unsigned packing) {
  return (packing == 3 ? b > 242u : (b & (b >> 1) & 0x55u) != 0u) ? kFaultCode : 0u;
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

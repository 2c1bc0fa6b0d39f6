// Bit-level float conversions: the single definition of f32 <-> bf16 / f16 rounding.
// Used by the scalar reference on the host and, unchanged, by the CUDA kernels, so every
// path agrees bit for bit (hardware intrinsics differ on NaN payloads and are not trusted).
//
// Rules (they match x86 F16C, which the AVX2 path uses and is tested against):
//   f32 -> bf16/f16: round to nearest, ties to even; overflow -> +-Inf; NaN stays NaN with the
//                    quiet bit set and the top mantissa bits kept; subnormal results are exact RNE.
//   bf16 -> f32:     exact (bits << 16).
//   f16 -> f32:      exact for numbers; NaN gets the quiet bit set (as VCVTPH2PS does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define TZ_HD __host__ __device__ __forceinline__
#else
#define TZ_HD inline
#endif

namespace tz {

TZ_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

TZ_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

TZ_HD uint16_t f32_to_bf16_bits(uint32_t x) {
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest-even; carries reach the exponent
  // correctly, including the step to Inf.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

TZ_HD uint32_t bf16_to_f32_bits(uint16_t h) { return static_cast<uint32_t>(h) << 16; }

TZ_HD uint16_t f32_to_f16_bits(uint32_t x) {
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to Inf
  if (a >= 0x38800000u) {  // normal f16 (>= 2^-14): rebias exponent 127 -> 15, then RNE on 13 bits
    const uint32_t m = a - 0x38000000u;
    return static_cast<uint16_t>(sign | ((m + 0x0FFFu + ((m >> 13) & 1u)) >> 13));
  }
  // Subnormal f16: result = round(a * 2^24) in units of the smallest subnormal.
  const uint32_t exp = a >> 23;
  const uint32_t shift = 126u - exp;  // >= 14 here
  if (shift > 24u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
  const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;  // may reach 0x400, the smallest normal: correct
  return static_cast<uint16_t>(sign | q);
}

TZ_HD uint32_t f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  uint32_t m = h & 0x3FFu;
  if (e == 0x1Fu) return sign | 0x7F800000u | (m << 13) | (m ? 0x00400000u : 0u);
  if (e == 0) {
    if (m == 0) return sign;
    uint32_t exp = 113;  // normalise the subnormal: value m * 2^-24
    while (!(m & 0x400u)) {
      m <<= 1;
      --exp;
    }
    return sign | (exp << 23) | ((m & 0x3FFu) << 13);
  }
  return sign | ((e + 112u) << 23) | (m << 13);
}


// The float encodings a tensor arrives in; kernels that take raw tensors read them through these.
enum class FloatType : unsigned { F32 = 0, BF16 = 1, F16 = 2 };

TZ_HD size_t float_type_bytes(FloatType t) { return t == FloatType::F32 ? 4 : 2; }

// Element i of a raw array of type t as f32 bits (exact).
TZ_HD uint32_t load_f32_bits(const void* src, FloatType t, size_t i) {
  if (t == FloatType::F32) return static_cast<const uint32_t*>(src)[i];
  const uint16_t h = static_cast<const uint16_t*>(src)[i];
  return t == FloatType::BF16 ? bf16_to_f32_bits(h) : f16_to_f32_bits(h);
}

// Stores f32 bits x as element i of a raw array of type t (round to nearest even).
TZ_HD void store_f32_bits(void* dst, FloatType t, size_t i, uint32_t x) {
  if (t == FloatType::F32) static_cast<uint32_t*>(dst)[i] = x;
  else static_cast<uint16_t*>(dst)[i] = t == FloatType::BF16 ? f32_to_bf16_bits(x) : f32_to_f16_bits(x);
}

}  // namespace tz

// seedlm (docs/METHODS.md, "seedlm"; SeedLM, arXiv 2410.10714): shared definitions of the scalar,
// AVX2 and CUDA kernels, which must agree bit for bit.
//
// LFSR: 16-bit Fibonacci, taps at bits 0, 1, 3, 12: feedback = XOR of those bits, state >>= 1,
// feedback into bit 15. Seeds 1..65535 (one cycle through every non-zero state).
// U(s) is C x P: U[c][p] = u(x_{c·P + p + 1}), where x_0 = s and x_{k+1} = lfsr_next(x_k) (the
// C·P states after s, filled row by row), and u(v) = (v - 2^15) / (2^15 - 1).
//
// A block w of C weights is stored as w ≈ U(s)·q·2^e: seed s (16 bits), exponent code e4 (4 bits,
// e = eMin + e4, eMin per tensor), q_p in [-8, 7] (4-bit two's complement).
//
// Search, for every seed, in f32 with the operation order below (fma = fused multiply-add; the
// chains start from 0):
//   t*_p  = Σ_c pinv[p][c]·w_c   (fma chain over c; pinv = (UᵀU)⁻¹Uᵀ, computed in f64, stored f32)
//   m     = max_p |t*_p|; e0 = the smallest e with m <= 7.5·2^e (from m's bits, seedlm_e0)
//   for e in (e0 - 1, e0, e0 + 1), each clamped to [eMin, eMin + 15]:
//     q_p   = clamp(rint(t*_p·2^-e), -8, 7)
//     ŵ_c   = (Σ_p (x_cp - 2^15)·q_p) · f32(2^e / 32767)   (the decoder's value, bit for bit: the
//             sum is exact in f32, since every partial sum is an integer below 2^24)
//     error = Σ_c (w_c - ŵ_c)²      (fma chain over c)
//   Lowest error wins; ties go to the smaller e, then to the smaller seed. So the search ranks
//   seeds by the error of exactly what will be decoded (a Gram-matrix shortcut loses it to
//   cancellation when an ill-conditioned U(s) gives large coefficients).
//
// Approximate mode (opt-in, `keep` = K > 0): every seed is ranked by its unquantized least-squares
// error, r = Σ_c (w_c - (Σ_p (x_cp - 2^15)·t*_p)·f32(1/32767))² (the inner sum an fma chain over p,
// then a multiply, a subtract, and an fma chain over c). The K seeds with the smallest r (ties to
// the smaller seed) then go through the exact trial above, and the best of them wins (ties to the
// smaller seed). It skips the three exponent candidates for all but K seeds.
//
// Decode (bit-exact everywhere): acc_c = Σ_p (x - 2^15)·q_p in int32 over the states of row c, then
// ŵ_c = f32(acc_c) · f32(2^e / (2^15 - 1)), the scale rounded once from double.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../runtime/float_bits.h"

namespace tz {

constexpr unsigned kSeedCount = 65535;
constexpr unsigned kSeedlmMaxC = 12, kSeedlmMaxP = 4;
// eMin is kept where 2^e and 2^-e are normal f32 for every e in [eMin - 1, eMin + 16].
constexpr int kSeedlmMinExp = -110, kSeedlmMaxExp = 100;

TZ_HD uint16_t lfsr_next(uint16_t s) {
  const unsigned feedback = (s ^ (s >> 1) ^ (s >> 3) ^ (s >> 12)) & 1u;
  return uint16_t((s >> 1) | (feedback << 15));
}

// u(v) of the definition, in double (exact to double rounding).
TZ_HD double seedlm_entry(uint16_t v) { return (double(v) - 32768.0) / 32767.0; }

// The float 2^e for e in [-126, 127], from its bits.
TZ_HD float pow2f(int e) { return bits_f32(uint32_t(127 + e) << 23); }

// The smallest e with m <= 7.5·2^e, for m = max |t*| >= 0 (m below the normal range gives a
// value far below any eMin). With m in [2^k, 2^(k+1)): e = k - 2 when m <= 1.875·2^k, else k - 1.
TZ_HD int seedlm_e0(float m) {
  const uint32_t b = f32_bits(m);
  const int k = int(b >> 23) - 127;
  return k - 2 + ((b & 0x7FFFFFu) > 0x700000u ? 1 : 0);
}

// q for coefficient t at exponent e: clamp(rint(t·2^-e), -8, 7), as a float.
TZ_HD float seedlm_q(float t, int e) {
  const float q = rintf(t * pow2f(-e));
  return q < -8.0f ? -8.0f : (q > 7.0f ? 7.0f : q);
}

// f32(2^e / 32767), the decode scale: 2^e times f32(1/32767) (scaling by a power of two commutes
// with rounding in the normal range, which kSeedlmMinExp/kSeedlmMaxExp keep).
constexpr float kSeedlmUnit = float(1.0 / 32767.0);
TZ_HD float seedlm_decode_scale(int e) { return pow2f(e) * kSeedlmUnit; }

// The per-tensor eMin from max |w|: the top exponent covers 4·max|w| (t* can exceed the
// weights), and the 16 codes reach 15 below it.
TZ_HD int seedlm_exp_min(float absMax) {
  const int e = seedlm_e0(4.0f * absMax) - 15;
  return e < kSeedlmMinExp ? kSeedlmMinExp : (e > kSeedlmMaxExp ? kSeedlmMaxExp : e);
}

// t* = pinv·w, each coefficient an fma chain over c from 0.
template <unsigned C, unsigned P>
TZ_HD void seedlm_coefficients(const float* pinv, const float* w, float* t) {
  for (unsigned p = 0; p < P; ++p) {
    float acc = 0.0f;
    for (unsigned c = 0; c < C; ++c) acc = fmaf(pinv[p * C + c], w[c], acc);
    t[p] = acc;
  }
}

// Σ_c (w_c - (Σ_p x_cp·coef_p)·scale)²: the inner sum an fma chain over p, then a multiply, a
// subtract, and an fma chain over c (both the search's error and the approximate ranking).
template <unsigned C, unsigned P>
TZ_HD float seedlm_error(const float* x, const float* coef, const float* w, float scale) {
  float error = 0.0f;
  for (unsigned c = 0; c < C; ++c) {
    float v = 0.0f;
    for (unsigned p = 0; p < P; ++p) v = fmaf(x[c * P + p], coef[p], v);
    const float r = w[c] - v * scale;
    error = fmaf(r, r, error);
  }
  return error;
}

// The approximate mode's ranking value of a seed for block w (see above).
template <unsigned C, unsigned P>
TZ_HD float seedlm_ls_error(const float* pinv, const float* x, const float* w) {
  float t[P];
  seedlm_coefficients<C, P>(pinv, w, t);
  return seedlm_error<C, P>(x, t, w, kSeedlmUnit);
}

// One trial of the search (the reference order of operations): the error of a seed's tables
// (pinv; x = the states minus 2^15 as floats, row c then p) for block w, and through bestE the
// exponent it chose.
template <unsigned C, unsigned P>
TZ_HD float seedlm_trial(const float* pinv, const float* x, const float* w, int eMin, int* bestE) {
  float t[P];
  seedlm_coefficients<C, P>(pinv, w, t);
  float m = 0.0f;
  for (unsigned p = 0; p < P; ++p) m = fabsf(t[p]) > m ? fabsf(t[p]) : m;
  const int e0 = seedlm_e0(m);
  float best = INFINITY;
  for (int k = -1; k <= 1; ++k) {
    const int e = e0 + k < eMin ? eMin : (e0 + k > eMin + 15 ? eMin + 15 : e0 + k);
    float q[P];
    for (unsigned p = 0; p < P; ++p) q[p] = seedlm_q(t[p], e);
    const float error = seedlm_error<C, P>(x, q, w, seedlm_decode_scale(e));
    if (error < best) {
      best = error;
      *bestE = e;
    }
  }
  return best;
}

}  // namespace tz

#include "rtn_weighted.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../codec/bitpack.h"
#include "rtn.h"

namespace tz {

namespace {

constexpr int kSteps = 21;  // f = 0.60 … 1.00

struct Candidate {
  uint16_t s16;
  double error;
};

// Codes for f16 scale s16 into q (as signed levels) and the weighted error they leave.
double quantise(const float* x, const float* a, size_t len, int qmax, uint16_t s16, int* q) {
  const float s = bits_f32(f16_to_f32_bits(s16)), inv = rtn_inverse(s);
  double err = 0;
  for (size_t i = 0; i < len; ++i) {
    q[i] = int(std::min(std::max(std::nearbyint(x[i] * inv), float(-qmax)), float(qmax)));
    const double d = double(x[i]) - double(float(q[i]) * s);
    err += double(a[i]) * d * d;
  }
  return err;
}

// f16 bits of a positive finite scale, or 0 when it is not one f16 can hold.
uint16_t scaleBits(double s) {
  if (!(s > 0) || !std::isfinite(s)) return 0;
  const uint16_t b = f32_to_f16_bits(f32_bits(float(s)));
  return (b & 0x7C00u) == 0x7C00u ? 0 : b;
}

}  // namespace

void rtn_encode_weighted(const float* w, const float* importance, size_t n, unsigned bits, size_t group, uint8_t* packed,
                         uint16_t* scales) {
  const int qmax = rtn_qmax(bits);
  std::vector<int> q(group);
  std::vector<uint8_t> codes(group);
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float* x = w + start;
    const float* a = importance + start;
    float amax = 0.0f;
    for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[i]));
    Candidate best{rtn_scale_bits(amax, bits), 0};
    best.error = quantise(x, a, len, qmax, best.s16, q.data());
    const auto consider = [&](uint16_t s16) {
      if (!s16) return;
      const double e = quantise(x, a, len, qmax, s16, q.data());
      if (e < best.error) best = {s16, e};
    };
    for (int k = 0; k < kSteps && amax > 0; ++k) {
      const uint16_t s16 = scaleBits((0.6 + 0.02 * k) * double(amax) / qmax);
      if (!s16) continue;
      consider(s16);
      // The weighted least-squares scale for these codes (q holds them after quantise).
      quantise(x, a, len, qmax, s16, q.data());
      double num = 0, den = 0;
      for (size_t i = 0; i < len; ++i) num += double(a[i]) * x[i] * q[i], den += double(a[i]) * q[i] * q[i];
      if (den > 0) consider(scaleBits(num / den));
    }
    scales[g] = best.s16;
    quantise(x, a, len, qmax, best.s16, q.data());
    for (size_t i = 0; i < len; ++i) codes[i] = uint8_t(q[i] + qmax);
    pack_codes(codes.data(), len, bits, packed + start * bits / 8);
  }
}

}  // namespace tz

#include "ternary_weighted.h"

#include <algorithm>
#include <vector>

#include "ternary.h"

namespace tz {

namespace {

// The weighted :opt refinement from γ: the importance-weighted least-squares scale of the trits
// chosen with the current γ, `rounds` times (sums in double).
float refine_weighted(const float* x, const float* a, size_t len, float gamma, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    double num = 0, den = 0;
    for (size_t i = 0; i < len; ++i)
      if (ternary_code(x[i], gamma) != 1) num += double(a[i]) * std::fabs(x[i]), den += a[i];
    if (!(den > 0)) break;
    gamma = float(num / den);
  }
  return gamma;
}

// Σ a (w − t·f16(γ))² for the trits of γ: the weighted error of what decoding gives back.
double weighted_error(const float* x, const float* a, size_t len, float gamma) {
  const float s = bits_f32(f16_to_f32_bits(ternary_scale_bits(gamma)));
  double e = 0;
  for (size_t i = 0; i < len; ++i) {
    const double d = double(x[i]) - double(float(int(ternary_code(x[i], gamma)) - 1) * s);
    e += double(a[i]) * d * d;
  }
  return e;
}

}  // namespace

void ternary_encode_weighted(const void* src, FloatType type, size_t n, size_t group, unsigned packing, unsigned rounds,
                             const float* importance, uint8_t* packed, uint16_t* scales) {
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = bits_f32(load_f32_bits(src, type, i));
  std::vector<uint8_t> codes(n);
  for (size_t g = 0, start = 0; start < n; ++g, start += group) {
    const size_t len = std::min(group, n - start);
    const float* x = w.data() + start;
    const float* a = importance + start;
    const float absmean = ternary_absmean(x, len);
    float gamma = ternary_refine(x, len, absmean, rounds);
    const float weighted = refine_weighted(x, a, len, absmean, rounds);
    if (weighted != gamma && weighted_error(x, a, len, weighted) < weighted_error(x, a, len, gamma)) gamma = weighted;
    scales[g] = ternary_scale_bits(gamma);
    for (size_t i = 0; i < len; ++i) codes[start + i] = ternary_code(x[i], gamma);
  }
  ternary_pack(codes.data(), n, packing, packed);
}

}  // namespace tz

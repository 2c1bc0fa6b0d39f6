#include "llama_ops.h"

#include <algorithm>
#include <cmath>

namespace tz {

void rms_norm(const float* x, size_t rows, size_t dim, size_t ldx, const float* w, float eps, float* out, size_t ldo) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    double ss = 0;
    for (size_t c = 0; c < dim; ++c) ss += double(xr[c]) * xr[c];
    const float inv = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    float* o = out + r * ldo;
    for (size_t c = 0; c < dim; ++c) o[c] = xr[c] * inv * w[c];
  }
}

void rope_tables(const float* invFreq, size_t half, size_t positions, float* cos, float* sin) {
  for (size_t p = 0; p < positions; ++p)
    for (size_t i = 0; i < half; ++i) {
      const double angle = double(p) * double(invFreq[i]);
      cos[p * half + i] = float(std::cos(angle));
      sin[p * half + i] = float(std::sin(angle));
    }
}

void apply_rope(float* x, size_t rows, size_t ld, size_t heads, size_t half, const float* cos, const float* sin) {
  for (size_t r = 0; r < rows; ++r) {
    const float* c = cos + r * half;
    const float* s = sin + r * half;
    for (size_t h = 0; h < heads; ++h) {
      float* v = x + r * ld + h * 2 * half;
      for (size_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

void causal_softmax(float* s, size_t rows, size_t ld, size_t first, size_t keys, size_t window, float scale) {
  for (size_t i = 0; i < rows; ++i) {
    float* row = s + i * ld;
    const size_t pos = first + i;
    const size_t hi = std::min(keys, pos + 1);
    const size_t lo = window && pos + 1 > window ? pos + 1 - window : 0;
    float mx = -INFINITY;
    for (size_t j = lo; j < hi; ++j) mx = std::max(mx, row[j] * scale);
    double sum = 0;
    for (size_t j = lo; j < hi; ++j) sum += (row[j] = std::exp(row[j] * scale - mx));
    const float inv = float(1.0 / sum);
    for (size_t j = 0; j < lo; ++j) row[j] = 0.0f;
    for (size_t j = lo; j < hi; ++j) row[j] *= inv;
    for (size_t j = hi; j < keys; ++j) row[j] = 0.0f;
  }
}

void silu_mul(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_squares(const float* x, size_t rows, size_t dim, size_t ld, double* acc) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < dim; ++c) acc[c] += double(x[r * ld + c]) * x[r * ld + c];
}

}  // namespace tz

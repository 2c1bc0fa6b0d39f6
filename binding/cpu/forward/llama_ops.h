// The element-wise steps of a Llama-family decoder (everything but the matrix products):
// RMSNorm, rotary position embedding (Hugging Face's rotate-half convention), causal softmax,
// SwiGLU's gate, and the squared-activation sums behind importance matrices.
#pragma once
#include <cstddef>

namespace tz {

// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w, for `rows` rows of `dim` (row strides ldx, ldo).
void rms_norm(const float* x, size_t rows, size_t dim, size_t ldx, const float* w, float eps, float* out, size_t ldo);

// cos/sin tables [positions][half] for angles position · invFreq[i] (computed in double).
void rope_tables(const float* invFreq, size_t half, size_t positions, float* cos, float* sin);

// Rotates `heads` heads of 2·half values in each of `rows` rows (row r at position r): element i
// pairs with i + half, (a, b) -> (a·cos − b·sin, b·cos + a·sin).
void apply_rope(float* x, size_t rows, size_t ld, size_t heads, size_t half, const float* cos, const float* sin);

// Row i of s holds the raw scores of query position first + i against keys [0, keys): scales
// them, keeps keys j with j <= position (and position − j < window when window > 0), and
// replaces the row by its softmax (masked keys 0).
void causal_softmax(float* s, size_t rows, size_t ld, size_t first, size_t keys, size_t window, float scale);

// gate[i] = silu(gate[i]) · up[i], silu(z) = z / (1 + e^−z).
void silu_mul(float* gate, const float* up, size_t n);

// acc[c] += Σ_r x[r][c]² (double), for `rows` rows of `dim`.
void add_squares(const float* x, size_t rows, size_t dim, size_t ld, double* acc);

}  // namespace tz

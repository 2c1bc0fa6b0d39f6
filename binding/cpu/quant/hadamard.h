// The randomized Hadamard rotation of `:rot` (docs/METHODS.md, "Rotations"): each row of a
// weight matrix is cut into blocks of `block` columns (a power of two dividing the row), and each
// block x becomes y = H·(m ⊙ x), with H the Walsh–Hadamard matrix (Sylvester order, entries ±1) and
// m_j = ±1/√block a seeded sign per column: an orthogonal map, so the squared error a quantizer
// makes on y is the error of the weights, while H spreads every outlier over the whole block.
// Inverse: x = m ⊙ (H·y). The butterflies run in a fixed order (stages h = 1, 2, 4, …; in each,
// (a, b) -> (a + b, a − b)) and every product is one f32 multiply, so the scalar reference and
// the AVX2 row give the same bits.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tz {

// The largest block the rotation takes (what fits a core's L1 comfortably).
inline constexpr size_t kMaxHadamardBlock = 4096;

inline bool is_hadamard_block(size_t block) { return block >= 2 && block <= kMaxHadamardBlock && (block & (block - 1)) == 0; }

// m_j for columns j < cols: the sign from SplitMix64 of (seed, j), times 1/√block rounded to f32
// once (from the double), so that every path multiplies by the same value.
inline std::vector<float> hadamard_multipliers(uint64_t seed, size_t cols, size_t block) {
  const float scale = float(1.0 / std::sqrt(double(block)));
  std::vector<float> m(cols);
  for (size_t j = 0; j < cols; ++j) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (j + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    m[j] = (z >> 63) ? -scale : scale;
  }
  return m;
}

// One butterfly stage of half-width h over a block of `block` values (the reference order).
inline void hadamard_stage(float* x, size_t block, size_t h) {
  for (size_t i = 0; i < block; i += 2 * h)
    for (size_t j = i; j < i + h; ++j) {
      const float a = x[j], b = x[j + h];
      x[j] = a + b;
      x[j + h] = a - b;
    }
}

}  // namespace tz

// Byte-plane split for lossless storage. An element of `width` bytes is (optionally) rotated
// left by one bit inside its width, which moves a float's sign bit to the bottom so the top
// byte holds only exponent bits; then byte k of every element goes to plane k. Exponent planes
// are then highly compressible while mantissa planes are near-random (docs/METHODS.md,
// "lossless").
#pragma once
#include <cstddef>
#include <cstdint>

namespace tz {

// src: n elements of `width` bytes (little-endian); dst: width planes of n bytes each.
void split_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* dst);
// Inverse of split_planes.
void merge_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* dst);

}  // namespace tz

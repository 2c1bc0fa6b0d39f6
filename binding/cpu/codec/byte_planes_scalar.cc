// Byte-plane split for lossless storage, the scalar reference of the KernelTable rows
// split_planes and merge_planes. An element of `width` bytes (1, 2, 4 or 8, little-endian) is
// (optionally) rotated left by one bit inside its width, which moves a float's sign bit to the
// bottom so the top byte holds only exponent bits; then byte k of every element goes to plane k,
// an array of n bytes (planes need not be adjacent: a decoder's plane buffers merge where they
// are). Exponent planes are then highly compressible while mantissa planes are near-random
// (docs/METHODS.md, "lossless"). byte_planes_avx2.cc speeds up width 2 (bf16, f16) and must equal
// this byte for byte.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "../runtime/kernels.h"

namespace tz::scalar {

namespace {

template <class U>
U rotl1(U x) {
  return U((x << 1) | (x >> (sizeof(U) * 8 - 1)));
}
template <class U>
U rotr1(U x) {
  return U((x >> 1) | (x << (sizeof(U) * 8 - 1)));
}

// The plane pointers are copied to a local array first: byte stores may alias anything, so
// read through `planes` they would be reloaded for every byte.
template <class U>
void split(const uint8_t* src, size_t n, bool rotate, uint8_t* const* planes_in) {
  constexpr unsigned W = sizeof(U);
  uint8_t* planes[W];
  std::copy(planes_in, planes_in + W, planes);
  for (size_t i = 0; i < n; ++i) {
    U x;
    std::memcpy(&x, src + i * W, W);
    if (rotate) x = rotl1(x);
    for (unsigned k = 0; k < W; ++k) planes[k][i] = uint8_t(x >> (8 * k));
  }
}

template <class U>
void merge(const uint8_t* const* planes_in, size_t n, bool rotate, uint8_t* dst) {
  constexpr unsigned W = sizeof(U);
  const uint8_t* planes[W];
  std::copy(planes_in, planes_in + W, planes);
  for (size_t i = 0; i < n; ++i) {
    U x = 0;
    for (unsigned k = 0; k < W; ++k) x = U(x | (U(planes[k][i]) << (8 * k)));
    if (rotate) x = rotr1(x);
    std::memcpy(dst + i * W, &x, W);
  }
}

// Calls f with a value of the unsigned type of `width` bytes.
template <class F>
void by_width(unsigned width, F&& f) {
  switch (width) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: throw std::invalid_argument("byte planes: element width must be 1, 2, 4 or 8");
  }
}

}  // namespace

void split_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* const* planes) {
  by_width(width, [&](auto u) { split<decltype(u)>(src, n, rotate, planes); });
}

void merge_planes(const uint8_t* const* planes, size_t n, unsigned width, bool rotate, uint8_t* dst) {
  by_width(width, [&](auto u) { merge<decltype(u)>(planes, n, rotate, dst); });
}

}  // namespace tz::scalar

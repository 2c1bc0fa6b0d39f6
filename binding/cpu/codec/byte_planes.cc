#include "byte_planes.h"

#include <cstring>
#include <stdexcept>

namespace tz {

namespace {

template <class U>
U rotl1(U x) {
  return U((x << 1) | (x >> (sizeof(U) * 8 - 1)));
}
template <class U>
U rotr1(U x) {
  return U((x >> 1) | (x << (sizeof(U) * 8 - 1)));
}

template <class U>
void split(const uint8_t* src, size_t n, bool rotate, uint8_t* dst) {
  constexpr unsigned W = sizeof(U);
  for (size_t i = 0; i < n; ++i) {
    U x;
    std::memcpy(&x, src + i * W, W);
    if (rotate) x = rotl1(x);
    for (unsigned k = 0; k < W; ++k) dst[k * n + i] = uint8_t(x >> (8 * k));
  }
}

template <class U>
void merge(const uint8_t* src, size_t n, bool rotate, uint8_t* dst) {
  constexpr unsigned W = sizeof(U);
  for (size_t i = 0; i < n; ++i) {
    U x = 0;
    for (unsigned k = 0; k < W; ++k) x = U(x | (U(src[k * n + i]) << (8 * k)));
    if (rotate) x = rotr1(x);
    std::memcpy(dst + i * W, &x, W);
  }
}

}  // namespace

namespace {

// Dispatches on the element width once for both directions.
template <bool Split>
void planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* dst) {
  switch (width) {
    case 1: return Split ? split<uint8_t>(src, n, rotate, dst) : merge<uint8_t>(src, n, rotate, dst);
    case 2: return Split ? split<uint16_t>(src, n, rotate, dst) : merge<uint16_t>(src, n, rotate, dst);
    case 4: return Split ? split<uint32_t>(src, n, rotate, dst) : merge<uint32_t>(src, n, rotate, dst);
    case 8: return Split ? split<uint64_t>(src, n, rotate, dst) : merge<uint64_t>(src, n, rotate, dst);
    default: throw std::invalid_argument("byte planes: element width must be 1, 2, 4 or 8");
  }
}

}  // namespace

void split_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* dst) {
  planes<true>(src, n, width, rotate, dst);
}

void merge_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* dst) {
  planes<false>(src, n, width, rotate, dst);
}

}  // namespace tz

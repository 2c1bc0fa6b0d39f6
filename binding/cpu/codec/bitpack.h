// Fixed-width code packing, LSB first: code i occupies bits [i*bits, (i+1)*bits) of the byte
// stream, bit 0 of a byte being its least significant bit. Packed size: ceil(n*bits/8) bytes,
// the unused high bits of the last byte zero. Code types: uint8_t (bits <= 8) or uint16_t.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tz {

inline size_t packed_bytes(size_t n, unsigned bits) { return (n * bits + 7) / 8; }

// bits in 1..16 (at most the code type's width); higher code bits are masked off.
template <class Code>
void pack_codes(const Code* codes, size_t n, unsigned bits, uint8_t* out) {
  if (bits == 8) {
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t(codes[i]);
    return;
  }
  const uint32_t mask = (1u << bits) - 1u;
  uint64_t acc = 0;  // pending bits, LSB first
  unsigned have = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    acc |= uint64_t(codes[i] & mask) << have;
    have += bits;
    while (have >= 8) {
      out[o++] = uint8_t(acc);
      acc >>= 8;
      have -= 8;
    }
  }
  if (have) out[o] = uint8_t(acc);
}

template <class Code>
void unpack_codes(const uint8_t* packed, size_t n, unsigned bits, Code* codes) {
  if (bits == 8) {
    for (size_t i = 0; i < n; ++i) codes[i] = packed[i];
    return;
  }
  const uint32_t mask = (1u << bits) - 1u;
  uint64_t acc = 0;
  unsigned have = 0;
  size_t p = 0;
  for (size_t i = 0; i < n; ++i) {
    while (have < bits) {
      acc |= uint64_t(packed[p++]) << have;
      have += 8;
    }
    codes[i] = Code(acc & mask);
    acc >>= bits;
    have -= bits;
  }
}

}  // namespace tz

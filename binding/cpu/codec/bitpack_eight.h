// Eight codes at a time in a 64-bit word, to the same bytes as bitpack.h's LSB-first packing:
// eight codes of B bits are B whole bytes, so a run of codes starting on a byte boundary packs
// word by word instead of code by code through a bit accumulator (which costs more than the rANS
// coder or rtn's AVX2 quantizer that feed it). Little-endian hosts (x86-64).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tz {

// Masks of one code's, a pair's and a quad's bits at the bottom of each 16-, 32- and 64-bit lane.
template <unsigned B>
struct EightCodeLanes {
  static constexpr uint64_t kOne = 0x0001000100010001ull * ((1u << B) - 1);
  static constexpr uint64_t kTwo = 0x0000000100000001ull * ((uint64_t(1) << 2 * B) - 1);
  static constexpr uint64_t kFour = (uint64_t(1) << 4 * B) - 1;
};

// Eight codes, one per byte of v (each below 2^B, B in 1..8), packed into the low 8 * B bits
// (higher bits undefined). Each step keeps the lower half of every lane and moves the upper
// half's value down to just above it: codes in bytes, pairs in 16-bit lanes, quads in 32-bit
// lanes. Up to 4 bits a shifted lower half lands wholly below its lane (it moves by at least its
// width), so one mask after the OR suffices.
template <unsigned B>
uint64_t pack_eight(uint64_t v) {
  using L = EightCodeLanes<B>;
  if constexpr (B <= 4) {
    v = (v | (v >> (8 - B))) & L::kOne * ((1u << B) + 1);
    v = (v | (v >> (16 - 2 * B))) & L::kTwo * ((uint64_t(1) << 2 * B) + 1);
    return v | (v >> (32 - 4 * B));
  } else {
    v = (v & L::kOne) | ((v >> (8 - B)) & (L::kOne << B));
    v = (v & L::kTwo) | ((v >> (16 - 2 * B)) & (L::kTwo << 2 * B));
    return (v & L::kFour) | ((v >> (32 - 4 * B)) & (L::kFour << 4 * B));
  }
}

// The inverse: the low 8 * B bits of v (higher bits zero) to eight codes, one per byte.
template <unsigned B>
uint64_t unpack_eight(uint64_t v) {
  using L = EightCodeLanes<B>;
  if constexpr (B <= 4) {
    v = (v | (v << (32 - 4 * B))) & (L::kFour | L::kFour << 32);
    v = (v | (v << (16 - 2 * B))) & (L::kTwo | L::kTwo << 16);
    return (v | (v << (8 - B))) & (L::kOne | L::kOne << 8);
  } else {
    v = (v & L::kFour) | (((v >> 4 * B) & L::kFour) << 32);
    v = (v & L::kTwo) | (((v >> 2 * B) & L::kTwo) << 16);
    return (v & L::kOne) | (((v >> B) & L::kOne) << 8);
  }
}

// The B bytes at p as the low bits of a word, the rest zero. With `whole` (8 bytes readable at p),
// one 8-byte read, masked: a B-byte copy is done in pieces that a wide read of them then waits
// for, which made decoding at 3, 5 and 6 bits twice as slow.
template <unsigned B>
uint64_t load_packed(const uint8_t* p, bool whole) {
  uint64_t v = 0;
  if (whole) {
    std::memcpy(&v, p, 8);
    if constexpr (B < 8) v &= (uint64_t(1) << 8 * B) - 1;
  } else {
    std::memcpy(&v, p, B);
  }
  return v;
}

}  // namespace tz

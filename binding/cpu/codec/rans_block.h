// The scalar steps of the block coder, shared by the scalar rows and the AVX2 rows' tails: one
// encoding step, and one block's decoding state (so that both decoders read words and judge the
// end of a block by the same code).
#pragma once
#include <cstddef>
#include <cstdint>

#include "rans.h"

namespace tz {

// One encoding step of symbol i (scalar; also the AVX2 encoder's tail): words go downwards at p.
inline void rans_encode_step(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t i, uint32_t* x, uint16_t*& p) {
  uint32_t& xl = x[i % kRansLanes];
  const RansEncTable& t = tables[i % contexts];
  const uint8_t s = symbols[i];
  const uint32_t freq = t.freqCum[s] & 0xffff, cum = t.freqCum[s] >> 16;
  const bool emit = xl >= freq << (32 - kRansScaleBits);
  p[-1] = uint16_t(xl);  // a spare word below takes the store of a symbol that emits none
  p -= emit;
  xl = emit ? xl >> 16 : xl;
  const uint32_t q = uint32_t(((unsigned __int128)xl * t.inverse[s]) >> 44);
  xl = (q << kRansScaleBits) + (xl - q * freq) + cum;
}

struct RansBlockReader {
  uint32_t x[kRansLanes];
  const uint8_t* words;  // the next word to read
  const uint8_t* end;
  bool overrun = false;  // a lane needed a word past the end of the block

  RansBlockReader(const uint8_t* block, size_t bytes) : words(block + kRansStateBytes), end(block + bytes) {
    for (unsigned l = 0; l < kRansLanes; ++l)
      x[l] = uint32_t(block[4 * l]) | uint32_t(block[4 * l + 1]) << 8 | uint32_t(block[4 * l + 2]) << 16 | uint32_t(block[4 * l + 3]) << 24;
  }

  // Symbols [begin, n) of the block into dst[begin, n); symbol i with tables[i mod contexts].
  void decode(const RansTable* tables, unsigned contexts, uint8_t* dst, size_t begin, size_t n) {
    for (size_t i = begin; i < n; ++i) {
      uint32_t& xl = x[i % kRansLanes];
      const uint32_t e = tables[i % contexts].slot[xl & (kRansScale - 1)];
      dst[i] = uint8_t(e);
      xl = ((e >> 8) & 0xfff) * (xl >> kRansScaleBits) + (e >> 20);
      if (xl < kRansLow) {
        if (words == end) {
          overrun = true;
          return;
        }
        xl = xl << 16 | uint32_t(words[0]) | uint32_t(words[1]) << 8;
        words += 2;
      }
    }
  }

  // 0 when the block decoded exactly: every word read, every lane back at the encoder's start.
  unsigned finish() const {
    if (overrun || words != end) return 1;
    for (unsigned l = 0; l < kRansLanes; ++l)
      if (x[l] != kRansLow) return 1;
    return 0;
  }
};

}  // namespace tz

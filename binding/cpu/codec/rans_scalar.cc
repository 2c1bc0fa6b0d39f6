// The rANS block coder, scalar reference (rans.h): symbol i belongs to lane i mod 32 and to
// context i mod contexts; the encoder codes from the last symbol to the first, and the decoder
// reads a 16-bit word for a lane whose state falls below kRansLow, in symbol order.
#include "../runtime/kernels.h"
#include "rans.h"
#include "rans_block.h"

namespace tz::scalar {

// Symbols from last to first: a state about to outgrow [kRansLow, 2^32) emits its low word
// first. Words go downwards from wordsEnd; returns how many.
size_t rans_encode_block(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, uint32_t* x, uint16_t* wordsEnd) {
  uint16_t* p = wordsEnd;
  for (unsigned l = 0; l < kRansLanes; ++l) x[l] = kRansLow;
  for (size_t i = n; i-- > 0;) rans_encode_step(tables, contexts, symbols, i, x, p);
  return size_t(wordsEnd - p);
}

unsigned rans_decode_block(const RansTable* tables, unsigned contexts, const uint8_t* block, size_t bytes, uint8_t* dst, size_t n) {
  RansBlockReader r(block, bytes);
  r.decode(tables, contexts, dst, 0, n);
  return r.finish();
}

}  // namespace tz::scalar

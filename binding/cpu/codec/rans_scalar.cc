// The rANS block decoder, scalar reference (rans.h): symbol i belongs to lane i mod 32, and a
// lane whose state falls below kRansLow reads the next 16-bit word, in symbol order; symbol i
// is looked up in the table of its context, i mod contexts.
#include "../runtime/kernels.h"
#include "rans.h"
#include "rans_block.h"

namespace tz::scalar {

unsigned rans_decode_block(const RansTable* tables, unsigned contexts, const uint8_t* block, size_t bytes, uint8_t* dst, size_t n) {
  RansBlockReader r(block, bytes);
  r.decode(tables, contexts, dst, 0, n);
  return r.finish();
}

}  // namespace tz::scalar

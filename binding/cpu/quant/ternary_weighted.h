// ternary:opt with importance (`compress --importance`): the same format and decoder as
// ternary.h; only each group's scale is chosen differently. The :opt refinement is run twice
// from the absmean γ: as defined (mean |w| over the non-zero trits) and weighted (Σ a|w| / Σ a
// over the non-zero trits, a: the importance of w's input column). The group keeps whichever
// leaves the lower importance-weighted squared error of the decoded weights, the unweighted one
// on ties, so the weighted error is never above plain :opt's. Trits are ternary_code(w, γ) for
// the kept γ, as in every mode. Scalar only (an opt-in encoder).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../runtime/float_bits.h"

namespace tz {

void ternary_encode_weighted(const void* src, FloatType type, size_t n, size_t group, unsigned packing, unsigned rounds,
                             const float* importance, uint8_t* packed, uint16_t* scales);

}  // namespace tz

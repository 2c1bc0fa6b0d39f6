// rtn with importance (`compress --importance`): the same format and decoder as rtn.h, but each
// group's scale is the one, among a fixed set of candidates, that minimises the importance-
// weighted squared error Σ a_i (w_i − q_i·s)² of the group (a_i: the importance of w_i's input
// column). Candidates: the absmax scale of rtn.h; f16(f · max|w|/qmax) for f = 0.60, 0.62, …,
// 1.00; and each one's weighted least-squares refit Σ a w q / Σ a q² (rounded to f16). Codes are
// always round(w / s) for the stored f16 scale, so decoding is rtn's. The absmax scale is
// tried first and kept on ties, so the weighted error is never above rtn's. Scalar only: an
// opt-in encoder, about 40 quantisations per group.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tz {

void rtn_encode_weighted(const float* w, const float* importance, size_t n, unsigned bits, size_t group, uint8_t* packed,
                         uint16_t* scales);

}  // namespace tz

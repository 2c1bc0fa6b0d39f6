// seedlm search, scalar reference: every seed for every block, in the order of seedlm.h.
#include "../runtime/kernels.h"
#include "seedlm_tables.h"

namespace tz::scalar {

namespace {

template <unsigned C, unsigned P>
void search(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields) {
  for (size_t b = 0; b < blocks; ++b) {
    const float* wb = w + b * C;
    if (keep) {
      SeedlmShortlist list;
      for (unsigned s = 1; s <= kSeedCount; ++s) list.insert(keep, seedlm_ls_error<C, P>(t.pinv(s), t.x(s), wb), s);
      seedlm_finish_shortlist(t, list, wb, eMin, seeds + b, fields + b * (P + 1));
      continue;
    }
    float best = INFINITY;
    unsigned bestSeed = 0;
    int bestE = 0;
    for (unsigned s = 1; s <= kSeedCount; ++s) {
      int e = 0;
      const float score = seedlm_trial<C, P>(t.pinv(s), t.x(s), wb, eMin, &e);
      if (score < best) {
        best = score;
        bestSeed = s;
        bestE = e;
      }
    }
    seeds[b] = uint16_t(bestSeed);
    seedlm_fields(t, wb, bestSeed, bestE, eMin, fields + b * (P + 1));
  }
}

}  // namespace

void seedlm_search(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields) {
  seedlm_with_shape(t.C, t.P, [&](auto c, auto p) { search<c, p>(t, w, blocks, eMin, keep, seeds, fields); });
}

}  // namespace tz::scalar

// The per-(C, P) tables of the seedlm search and decoder (definitions in seedlm.h): the LFSR
// cycle, and per seed the pseudo-inverse, Uᵀ and the Gram upper triangle of U(s), computed in f64
// and stored in f32. Built once per (C, P) per process and shared by all threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "seedlm.h"

namespace tz {

struct SeedlmTables {
  unsigned C, P;
  size_t stride;                // floats per seed: P·C (pinv, row p then c), then C·P (x - 2^15, row c then p)
  std::vector<uint16_t> cycle;  // cycle[i] = x_i from x_0 = 1
  std::vector<uint32_t> where;  // where[s] = i with cycle[i] == s
  std::vector<float> perSeed;   // seed s at (s - 1)·stride
  // Per seed s at 2·(s - 1): ‖U‖_F and sqrt(‖(UᵀU)⁻¹‖_F), both rounded up (the pruning bound of
  // seedlm_avx2.cc).
  std::vector<float> bounds;
  double worstInverseError;     // max |pinv·U - I| over all seeds, in f64 (tested)

  const float* pinv(unsigned s) const { return perSeed.data() + size_t(s - 1) * stride; }
  const float* x(unsigned s) const { return pinv(s) + P * C; }
  // x_k after seed s (k >= 1).
  uint16_t state(unsigned s, unsigned k) const { return cycle[(where[s] + k) % kSeedCount]; }
};

// Calls f(std::integral_constant<unsigned, C>, std::integral_constant<unsigned, P>) for the
// tables' shape, one of the presets (C 8, P 3; C 12, P 4): the kernels are templates on both.
template <class F>
decltype(auto) seedlm_with_shape(unsigned C, unsigned P, F&& f) {
  if (C == 8 && P == 3) return f(std::integral_constant<unsigned, 8>{}, std::integral_constant<unsigned, 3>{});
  if (C == 12 && P == 4) return f(std::integral_constant<unsigned, 12>{}, std::integral_constant<unsigned, 4>{});
  throw std::invalid_argument("seedlm: no kernel for C " + std::to_string(C) + ", P " + std::to_string(P));
}

// The tables for C x P (C <= 12, P <= 4); built on first use, thread-safe.
const SeedlmTables& seedlm_tables(unsigned C, unsigned P);

// The fields of one block for the seed and exponent the search chose (e4, then q_p as int8).
void seedlm_fields(const SeedlmTables& t, const float* w, unsigned seed, int e, int eMin, uint8_t* fields);

// The approximate mode's candidate list of one block: the `keep` best seeds by seedlm_ls_error,
// sorted by (value, seed). insert() takes seeds in increasing order.
struct SeedlmShortlist {
  static constexpr unsigned kMax = 32;
  unsigned size = 0;
  float value[kMax];
  uint16_t seed[kMax];
  // The value a seed must beat to get in (infinity until the list is full).
  float bar(unsigned keep) const { return size < keep ? INFINITY : value[keep - 1]; }
  void insert(unsigned keep, float v, unsigned s);
};

// The exact trial over a shortlist: the block's seed and fields (the approximate mode's result).
void seedlm_finish_shortlist(const SeedlmTables& t, const SeedlmShortlist& list, const float* w, int eMin, uint16_t* seed, uint8_t* fields);

// Decodes `blocks` blocks: seeds[b], fields[b·(P+1) + 0] = e4, fields[b·(P+1) + 1 + p] = q_p
// (as int8), into out[b·C + c] (the integer-exact decoder of seedlm.h).
void seedlm_decode(const SeedlmTables& t, int eMin, const uint16_t* seeds, const uint8_t* fields, size_t blocks, float* out);

}  // namespace tz

// seedlm search with AVX2: eight blocks per vector (one block per lane), every seed's tables
// broadcast to all lanes, the same operations as seedlm_trial in the same order (FMA where it
// has fma), so the chosen seeds equal the scalar reference's. Seeds are walked in tiles that stay
// in L2 while a tile of block vectors is searched.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "../runtime/kernels.h"
#include "seedlm_tables.h"

namespace tz::avx2 {

namespace {

constexpr unsigned kSeedTile = 2048;   // seeds per tile: 2048 · 48 (or 96) floats, within L2
constexpr size_t kVectorTile = 16;     // block vectors (of 8 blocks) per tile
constexpr unsigned kTogether = 2;      // block vectors searched side by side

// The best (error, seed, exponent) per lane so far.
struct Best {
  __m256 score;
  __m256i seed, e;
};

// Seeds [s0, s1) for V vectors of 8 blocks (lane = block; w[v][c] = weight c of the 8 blocks).
// Searching V vectors at once gives the core V independent chains of dependent FMAs per seed.
//
// Exact pruning. A seed whose every candidate error is provably >= the best error so far cannot
// win (ties keep the earlier seed), so its three candidates are skipped. The bound: for the
// residual z = w - U·t* of the computed coefficients (in real arithmetic), the least-squares
// error is r_LS = ‖z‖² - ‖P_U z‖² with ‖P_U z‖ <= sqrt(‖(UᵀU)⁻¹‖)·‖Uᵀz‖, whatever t*'s accuracy;
// every candidate's error is at least r_LS. Here ‖z‖ and ‖Uᵀz‖ are computed in f32, so the
// bound subtracts 1e-5 of the magnitudes involved: more than 100 times the f32 rounding of
// these sums and of the decoder, which is at most (C + P + 4)·2^-24 of them. Ill-conditioned
// seeds (large ‖(UᵀU)⁻¹‖) get a weak bound and are simply evaluated.
template <unsigned C, unsigned P, unsigned V>
void searchVectors(const SeedlmTables& t, const float (*w)[C][8], unsigned s0, unsigned s1, int eMin, Best* best) {
  const __m256i eLo = _mm256_set1_epi32(eMin), eHi = _mm256_set1_epi32(eMin + 15);
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 unit = _mm256_set1_ps(kSeedlmUnit), pad = _mm256_set1_ps(1e-5f), one = _mm256_set1_ps(1.0f);
  __m256 norm[V];  // ‖w‖ per lane, rounded up
  for (unsigned v = 0; v < V; ++v) {
    __m256 sq = _mm256_setzero_ps();
    for (unsigned c = 0; c < C; ++c) sq = _mm256_fmadd_ps(_mm256_load_ps(w[v][c]), _mm256_load_ps(w[v][c]), sq);
    norm[v] = _mm256_mul_ps(_mm256_sqrt_ps(sq), _mm256_add_ps(one, pad));
  }
  for (unsigned s = s0; s < s1; ++s) {
    const float* pinv = t.pinv(s);
    const float* x = pinv + P * C;
    __m256 tv[V][P];
    for (unsigned p = 0; p < P; ++p) {
      __m256 acc[V];
      for (unsigned v = 0; v < V; ++v) acc[v] = _mm256_setzero_ps();
      for (unsigned c = 0; c < C; ++c) {
        const __m256 coef = _mm256_broadcast_ss(pinv + p * C + c);
        for (unsigned v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(coef, _mm256_load_ps(w[v][c]), acc[v]);
      }
      for (unsigned v = 0; v < V; ++v) tv[v][p] = acc[v];
    }
    {
      // The pruning bound (see above): ‖z‖², Uᵀz (as Xᵀz / 32767) and ‖t*‖.
      __m256 zz[V], g[V][P], tt[V];
      for (unsigned v = 0; v < V; ++v) {
        zz[v] = tt[v] = _mm256_setzero_ps();
        for (unsigned p = 0; p < P; ++p) {
          g[v][p] = _mm256_setzero_ps();
          tt[v] = _mm256_fmadd_ps(tv[v][p], tv[v][p], tt[v]);
        }
      }
      for (unsigned c = 0; c < C; ++c) {
        __m256 xs[P];
        for (unsigned p = 0; p < P; ++p) xs[p] = _mm256_broadcast_ss(x + c * P + p);
        for (unsigned v = 0; v < V; ++v) {
          __m256 sum = _mm256_setzero_ps();
          for (unsigned p = 0; p < P; ++p) sum = _mm256_fmadd_ps(xs[p], tv[v][p], sum);
          const __m256 z = _mm256_sub_ps(_mm256_load_ps(w[v][c]), _mm256_mul_ps(sum, unit));
          zz[v] = _mm256_fmadd_ps(z, z, zz[v]);
          for (unsigned p = 0; p < P; ++p) g[v][p] = _mm256_fmadd_ps(xs[p], z, g[v][p]);
        }
      }
      const __m256 frobU = _mm256_broadcast_ss(&t.bounds[2 * size_t(s - 1)]), nu = _mm256_broadcast_ss(&t.bounds[2 * size_t(s - 1) + 1]);
      int pruned = 0;
      for (unsigned v = 0; v < V; ++v) {
        __m256 gg = _mm256_setzero_ps();
        for (unsigned p = 0; p < P; ++p) gg = _mm256_fmadd_ps(g[v][p], g[v][p], gg);
        const __m256 zn = _mm256_sqrt_ps(zz[v]);
        const __m256 eta = _mm256_mul_ps(pad, _mm256_add_ps(_mm256_fmadd_ps(frobU, _mm256_sqrt_ps(tt[v]), zn), norm[v]));
        const __m256 gHigh = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(unit, _mm256_sqrt_ps(gg)), _mm256_add_ps(one, pad)),
                                           _mm256_mul_ps(frobU, _mm256_fmadd_ps(pad, zn, eta)));
        __m256 low = _mm256_sub_ps(_mm256_mul_ps(zn, _mm256_sub_ps(one, pad)), eta);
        low = _mm256_sub_ps(_mm256_sub_ps(low, _mm256_mul_ps(nu, gHigh)), _mm256_mul_ps(pad, _mm256_add_ps(norm[v], zn)));
        const __m256 bound = _mm256_mul_ps(_mm256_mul_ps(low, low), _mm256_sub_ps(one, pad));
        const __m256 beyond = _mm256_and_ps(_mm256_cmp_ps(low, _mm256_setzero_ps(), _CMP_GT_OQ),
                                            _mm256_cmp_ps(bound, _mm256_mul_ps(best[v].score, _mm256_add_ps(one, pad)), _CMP_GE_OQ));
        pruned += _mm256_movemask_ps(beyond) == 0xFF;
      }
      if (pruned == int(V)) continue;
    }
    // The three candidate exponents side by side, so each state is broadcast once.
    __m256 q[V][3][P], scale[V][3], error[V][3];
    __m256i e[V][3];
    for (unsigned v = 0; v < V; ++v) {
      __m256 m = _mm256_and_ps(tv[v][0], absMask);
      for (unsigned p = 1; p < P; ++p) m = _mm256_max_ps(m, _mm256_and_ps(tv[v][p], absMask));
      // seedlm_e0: k - 2, plus 1 when the significand is above 1.875.
      const __m256i mb = _mm256_castps_si256(m);
      const __m256i e0 = _mm256_sub_epi32(_mm256_sub_epi32(_mm256_srli_epi32(mb, 23), _mm256_set1_epi32(129)),
                                          _mm256_cmpgt_epi32(_mm256_and_si256(mb, _mm256_set1_epi32(0x7FFFFF)), _mm256_set1_epi32(0x700000)));
      for (int k = 0; k < 3; ++k) {
        e[v][k] = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(e0, _mm256_set1_epi32(k - 1)), eLo), eHi);
        const __m256 down = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(127), e[v][k]), 23));
        scale[v][k] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e[v][k], _mm256_set1_epi32(127)), 23)), _mm256_set1_ps(kSeedlmUnit));
        for (unsigned p = 0; p < P; ++p) {
          const __m256 r = _mm256_round_ps(_mm256_mul_ps(tv[v][p], down), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          q[v][k][p] = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-8.0f)), _mm256_set1_ps(7.0f));
        }
        error[v][k] = _mm256_setzero_ps();
      }
    }
    for (unsigned c = 0; c < C; ++c) {
      __m256 xs[P];
      for (unsigned p = 0; p < P; ++p) xs[p] = _mm256_broadcast_ss(x + c * P + p);
      for (unsigned v = 0; v < V; ++v) {
        const __m256 wc = _mm256_load_ps(w[v][c]);
        for (int k = 0; k < 3; ++k) {
          __m256 sum = _mm256_setzero_ps();
          for (unsigned p = 0; p < P; ++p) sum = _mm256_fmadd_ps(xs[p], q[v][k][p], sum);
          const __m256 r = _mm256_sub_ps(wc, _mm256_mul_ps(sum, scale[v][k]));
          error[v][k] = _mm256_fmadd_ps(r, r, error[v][k]);
        }
      }
    }
    const __m256 seed = _mm256_castsi256_ps(_mm256_set1_epi32(int(s)));
    for (unsigned v = 0; v < V; ++v) {
      __m256 bestScore = _mm256_set1_ps(INFINITY);
      __m256i bestE = _mm256_setzero_si256();
      for (int k = 0; k < 3; ++k) {
        const __m256 better = _mm256_cmp_ps(error[v][k], bestScore, _CMP_LT_OQ);
        bestScore = _mm256_blendv_ps(bestScore, error[v][k], better);
        bestE = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestE), _mm256_castsi256_ps(e[v][k]), better));
      }
      const __m256 better = _mm256_cmp_ps(bestScore, best[v].score, _CMP_LT_OQ);
      best[v].score = _mm256_blendv_ps(best[v].score, bestScore, better);
      best[v].seed = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best[v].seed), seed, better));
      best[v].e = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best[v].e), _mm256_castsi256_ps(bestE), better));
    }
  }
}

// The approximate mode's ranking (seedlm_ls_error) of seeds [s0, s1) for one vector of 8 blocks,
// into their shortlists; a lane's list is touched only when the seed beats its bar.
template <unsigned C, unsigned P>
void shortlistVector(const SeedlmTables& t, const float (*w)[8], unsigned s0, unsigned s1, unsigned keep, SeedlmShortlist* lists) {
  alignas(32) float bars[8];
  for (int lane = 0; lane < 8; ++lane) bars[lane] = lists[lane].bar(keep);
  __m256 bar = _mm256_load_ps(bars);
  for (unsigned s = s0; s < s1; ++s) {
    const float* pinv = t.pinv(s);
    const float* x = pinv + P * C;
    __m256 tv[P];
    for (unsigned p = 0; p < P; ++p) {
      __m256 acc = _mm256_setzero_ps();
      for (unsigned c = 0; c < C; ++c) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(pinv + p * C + c), _mm256_load_ps(w[c]), acc);
      tv[p] = acc;
    }
    __m256 error = _mm256_setzero_ps();
    for (unsigned c = 0; c < C; ++c) {
      __m256 v = _mm256_setzero_ps();
      for (unsigned p = 0; p < P; ++p) v = _mm256_fmadd_ps(_mm256_broadcast_ss(x + c * P + p), tv[p], v);
      const __m256 r = _mm256_sub_ps(_mm256_load_ps(w[c]), _mm256_mul_ps(v, _mm256_set1_ps(kSeedlmUnit)));
      error = _mm256_fmadd_ps(r, r, error);
    }
    const int in = _mm256_movemask_ps(_mm256_cmp_ps(error, bar, _CMP_LT_OQ));
    if (!in) continue;
    alignas(32) float errors[8];
    _mm256_store_ps(errors, error);
    for (int lane = 0; lane < 8; ++lane)
      if (in >> lane & 1) {
        lists[lane].insert(keep, errors[lane], s);
        bars[lane] = lists[lane].bar(keep);
      }
    bar = _mm256_load_ps(bars);
  }
}

template <unsigned C, unsigned P>
void search(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields) {
  const size_t vectors = (blocks + 7) / 8;
  for (size_t v0 = 0; v0 < vectors; v0 += kVectorTile) {
    const size_t v1 = std::min(vectors, v0 + kVectorTile);
    alignas(32) float lanes[kVectorTile][C][8];  // weights transposed: [vector][c][lane]; padding lanes are 0
    Best best[kVectorTile];
    SeedlmShortlist lists[kVectorTile * 8];
    for (size_t v = v0; v < v1; ++v) {
      for (unsigned lane = 0; lane < 8; ++lane)
        for (unsigned c = 0; c < C; ++c) lanes[v - v0][c][lane] = v * 8 + lane < blocks ? w[(v * 8 + lane) * C + c] : 0.0f;
      best[v - v0] = {_mm256_set1_ps(INFINITY), _mm256_setzero_si256(), _mm256_setzero_si256()};
    }
    for (unsigned s0 = 1; s0 <= kSeedCount; s0 += kSeedTile) {
      const unsigned s1 = std::min(kSeedCount + 1, s0 + kSeedTile);
      size_t v = v0;
      if (keep) {
        for (; v < v1; ++v) shortlistVector<C, P>(t, lanes[v - v0], s0, s1, keep, lists + (v - v0) * 8);
        continue;
      }
      for (; v + kTogether <= v1; v += kTogether) searchVectors<C, P, kTogether>(t, lanes + (v - v0), s0, s1, eMin, best + (v - v0));
      for (; v < v1; ++v) searchVectors<C, P, 1>(t, lanes + (v - v0), s0, s1, eMin, best + (v - v0));
    }
    if (keep) {
      for (size_t b = v0 * 8; b < std::min(blocks, v1 * 8); ++b)
        seedlm_finish_shortlist(t, lists[b - v0 * 8], w + b * C, eMin, seeds + b, fields + b * (P + 1));
      continue;
    }
    for (size_t v = v0; v < v1; ++v) {
      alignas(32) int32_t seed[8], e[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(seed), best[v - v0].seed);
      _mm256_store_si256(reinterpret_cast<__m256i*>(e), best[v - v0].e);
      for (unsigned lane = 0; lane < 8 && v * 8 + lane < blocks; ++lane) {
        const size_t b = v * 8 + lane;
        seeds[b] = uint16_t(seed[lane]);
        seedlm_fields(t, w + b * C, unsigned(seed[lane]), e[lane], eMin, fields + b * (P + 1));
      }
    }
  }
}

}  // namespace

void seedlm_search(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields) {
  seedlm_with_shape(t.C, t.P, [&](auto c, auto p) { search<c, p>(t, w, blocks, eMin, keep, seeds, fields); });
}

}  // namespace tz::avx2

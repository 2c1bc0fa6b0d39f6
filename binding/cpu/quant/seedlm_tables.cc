#include "seedlm_tables.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace tz {

namespace {

// Solves L·Lᵀ·x = b for the P x P lower-triangular Cholesky factor l.
void cholesky_solve(const double (*l)[kSeedlmMaxP], unsigned P, const double* b, double* x) {
  double y[kSeedlmMaxP];
  for (unsigned i = 0; i < P; ++i) {
    double v = b[i];
    for (unsigned k = 0; k < i; ++k) v -= l[i][k] * y[k];
    y[i] = v / l[i][i];
  }
  for (unsigned i = P; i-- > 0;) {
    double v = y[i];
    for (unsigned k = i + 1; k < P; ++k) v -= l[k][i] * x[k];
    x[i] = v / l[i][i];
  }
}

std::unique_ptr<SeedlmTables> build(unsigned C, unsigned P) {
  auto t = std::make_unique<SeedlmTables>();
  t->C = C;
  t->P = P;
  t->stride = 2 * size_t(P) * C;
  t->cycle.resize(kSeedCount);
  t->where.assign(65536, 0);
  uint16_t x = 1;
  for (unsigned i = 0; i < kSeedCount; ++i, x = lfsr_next(x)) {
    t->cycle[i] = x;
    t->where[x] = i;
  }
  if (x != 1) throw std::logic_error("seedlm: the LFSR does not have period 65535");

  t->perSeed.resize(size_t(kSeedCount) * t->stride);
  t->bounds.resize(2 * size_t(kSeedCount));
  t->worstInverseError = 0;
  for (unsigned s = 1; s <= kSeedCount; ++s) {
    double u[kSeedlmMaxC][kSeedlmMaxP], g[kSeedlmMaxP][kSeedlmMaxP] = {}, l[kSeedlmMaxP][kSeedlmMaxP] = {};
    for (unsigned c = 0; c < C; ++c)
      for (unsigned p = 0; p < P; ++p) u[c][p] = seedlm_entry(t->state(s, c * P + p + 1));
    for (unsigned i = 0; i < P; ++i)
      for (unsigned j = 0; j < P; ++j)
        for (unsigned c = 0; c < C; ++c) g[i][j] += u[c][i] * u[c][j];
    // Cholesky G = L·Lᵀ (G is positive definite for every seed; checked).
    for (unsigned i = 0; i < P; ++i)
      for (unsigned j = 0; j <= i; ++j) {
        double v = g[i][j];
        for (unsigned k = 0; k < j; ++k) v -= l[i][k] * l[j][k];
        if (i == j) {
          if (!(v > 1e-12)) throw std::logic_error("seedlm: U(" + std::to_string(s) + ") is rank-deficient");
          l[i][i] = std::sqrt(v);
        } else {
          l[i][j] = v / l[j][j];
        }
      }
    float* pinv = t->perSeed.data() + size_t(s - 1) * t->stride;
    double back[kSeedlmMaxP][kSeedlmMaxC];
    for (unsigned c = 0; c < C; ++c) {  // column c of G⁻¹Uᵀ
      double z[kSeedlmMaxP];
      cholesky_solve(l, P, u[c], z);
      for (unsigned p = 0; p < P; ++p) {
        back[p][c] = z[p];
        pinv[p * C + c] = float(z[p]);
      }
    }
    for (unsigned i = 0; i < P; ++i)  // pinv·U should be the identity
      for (unsigned j = 0; j < P; ++j) {
        double v = i == j ? -1.0 : 0.0;
        for (unsigned c = 0; c < C; ++c) v += back[i][c] * u[c][j];
        t->worstInverseError = std::max(t->worstInverseError, std::fabs(v));
      }
    // ‖U‖_F, and ‖G⁻¹‖_F from G⁻¹'s columns (solves of L·Lᵀ·x = e_j), each padded upwards
    // well past their f64 rounding.
    double frobU = 0, frobInv = 0;
    for (unsigned c = 0; c < C; ++c)
      for (unsigned p = 0; p < P; ++p) frobU += u[c][p] * u[c][p];
    for (unsigned j = 0; j < P; ++j) {
      double e[kSeedlmMaxP] = {}, z[kSeedlmMaxP];
      e[j] = 1.0;
      cholesky_solve(l, P, e, z);
      for (unsigned i = 0; i < P; ++i) frobInv += z[i] * z[i];
    }
    t->bounds[2 * size_t(s - 1)] = float(std::sqrt(frobU) * (1 + 1e-6));
    t->bounds[2 * size_t(s - 1) + 1] = float(std::sqrt(std::sqrt(frobInv)) * 1.001);
    float* xf = pinv + size_t(P) * C;
    for (unsigned c = 0; c < C; ++c)
      for (unsigned p = 0; p < P; ++p) xf[c * P + p] = float(int(t->state(s, c * P + p + 1)) - 32768);
  }
  return t;
}

}  // namespace

const SeedlmTables& seedlm_tables(unsigned C, unsigned P) {
  if (C < 1 || C > kSeedlmMaxC || P < 1 || P > kSeedlmMaxP || P > C) throw std::invalid_argument("seedlm: unsupported block shape");
  static std::mutex mutex;
  static std::map<std::pair<unsigned, unsigned>, std::unique_ptr<SeedlmTables>> built;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = built[{C, P}];
  if (!slot) slot = build(C, P);
  return *slot;
}

void seedlm_fields(const SeedlmTables& t, const float* w, unsigned seed, int e, int eMin, uint8_t* fields) {
  // Only weights too large for f32 arithmetic leave every seed's error non-finite.
  if (seed == 0) throw std::runtime_error("seedlm: a block has no finite fit (weights too large for f32)");
  float coef[kSeedlmMaxP];  // t* exactly as the search computed it
  seedlm_with_shape(t.C, t.P, [&](auto c, auto p) { seedlm_coefficients<c, p>(t.pinv(seed), w, coef); });
  fields[0] = uint8_t(e - eMin);
  for (unsigned p = 0; p < t.P; ++p) fields[1 + p] = uint8_t(int8_t(seedlm_q(coef[p], e)));
}

void SeedlmShortlist::insert(unsigned keep, float v, unsigned s) {
  if (!(v < bar(keep))) return;
  unsigned at = size < keep ? size++ : keep - 1;
  for (; at > 0 && value[at - 1] > v; --at) {  // equal values stay ahead: their seeds are smaller
    value[at] = value[at - 1];
    seed[at] = seed[at - 1];
  }
  value[at] = v;
  seed[at] = uint16_t(s);
}

void seedlm_finish_shortlist(const SeedlmTables& t, const SeedlmShortlist& list, const float* w, int eMin, uint16_t* seedOut, uint8_t* fields) {
  // Exact trials in seed order, so that ties go to the smaller seed.
  uint16_t seeds[SeedlmShortlist::kMax];
  std::copy(list.seed, list.seed + list.size, seeds);
  std::sort(seeds, seeds + list.size);
  float best = INFINITY;
  unsigned bestSeed = 0;
  int bestE = 0;
  for (unsigned i = 0; i < list.size; ++i) {
    int e = 0;
    const float error = seedlm_with_shape(t.C, t.P, [&](auto c, auto p) { return seedlm_trial<c, p>(t.pinv(seeds[i]), t.x(seeds[i]), w, eMin, &e); });
    if (error < best) {
      best = error;
      bestSeed = seeds[i];
      bestE = e;
    }
  }
  *seedOut = uint16_t(bestSeed);
  seedlm_fields(t, w, bestSeed, bestE, eMin, fields);
}

void seedlm_decode(const SeedlmTables& t, int eMin, const uint16_t* seeds, const uint8_t* fields, size_t blocks, float* out) {
  const unsigned C = t.C, P = t.P;
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* f = fields + b * (P + 1);
    const unsigned s = seeds[b];
    if (s == 0 || f[0] > 15) throw std::runtime_error("seedlm: corrupt block (seed 0 or exponent code > 15)");
    const float scale = seedlm_decode_scale(eMin + int(f[0]));
    const unsigned base = t.where[s];
    for (unsigned c = 0; c < C; ++c) {
      int32_t acc = 0;
      for (unsigned p = 0; p < P; ++p) acc += (int32_t(t.cycle[(base + c * P + p + 1) % kSeedCount]) - 32768) * int32_t(int8_t(f[1 + p]));
      out[b * C + c] = float(acc) * scale;
    }
  }
}

}  // namespace tz

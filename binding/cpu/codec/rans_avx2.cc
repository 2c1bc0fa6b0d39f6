// The rANS block coder with AVX2: the 32 lanes as four registers of 8. The decoder gathers their
// table entries at once, loads the words of the lanes that renormalise together and spreads them
// to their lanes by a permutation; the encoder loads its lanes' frequencies one by one (on the
// AMD EPYC of docs/BENCHMARKS.md that was 1.75x faster than a gather), packs the words its lanes
// emit by the inverse permutation, and divides in double (exact: see the division below). Both
// must equal rans_scalar.cc bit for bit (the same words, the same bytes, the same verdict on a
// bad block); the symbols that do not fill 32 lanes, and any decoder group whose 8 words might
// lie past the block's end, go through the scalar steps (rans_block.h).
#include <immintrin.h>

#include <array>

#include "../runtime/kernels.h"
#include "rans.h"
#include "rans_block.h"

namespace tz::avx2 {

namespace {

// For a mask of the lanes that read a word: lane j takes word popcount(mask below j).
const std::array<std::array<uint32_t, 8>, 256> kSpread = [] {
  std::array<std::array<uint32_t, 8>, 256> t{};
  for (unsigned m = 0; m < 256; ++m) {
    unsigned k = 0;
    for (unsigned j = 0; j < 8; ++j) t[m][j] = (m >> j & 1) ? k++ : 0;
  }
  return t;
}();

// For a mask of the lanes that emit a word: the lanes in ascending order, at the top of 8 slots
// (slot 8 - count + r holds the r-th emitting lane), so that a store of all 8 slots ending at the
// write position leaves the words in order and its unused slots in free space below.
const std::array<std::array<uint32_t, 8>, 256> kGatherHigh = [] {
  std::array<std::array<uint32_t, 8>, 256> t{};
  for (unsigned m = 0; m < 256; ++m) {
    const unsigned count = unsigned(__builtin_popcount(m));
    unsigned r = 0;
    for (unsigned j = 0; j < 8; ++j)
      if (m >> j & 1) t[m][8 - count + r++] = j;
  }
  return t;
}();

// u32 lanes to double, for values up to 2^32 - 1 (cvtepi32_pd is signed).
inline __m256d ToDouble(__m128i v) {
  return _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(v, _mm_set1_epi32(int(0x80000000u)))), _mm256_set1_pd(2147483648.0));
}

}  // namespace

size_t rans_encode_block(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, uint32_t* states, uint16_t* wordsEnd) {
  uint16_t* p = wordsEnd;
  for (unsigned l = 0; l < kRansLanes; ++l) states[l] = kRansLow;
  const size_t full = n - n % kRansLanes;
  for (size_t i = n; i-- > full;) rans_encode_step(tables, contexts, symbols, i, states, p);
  __m256i x[4];
  for (int g = 0; g < 4; ++g) x[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(states + 8 * g));
  // Lane j of every register is in context j mod contexts (contexts divides 8).
  const uint32_t* laneTable[8];
  for (unsigned j = 0; j < 8; ++j) laneTable[j] = tables[j % contexts].freqCum;
  const __m256i low16 = _mm256_set1_epi32(0xffff);
  // Low 16 bits of each 32-bit lane to the low 8 bytes of each 128-bit half.
  const __m256i words16 = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
  for (size_t base = full; base > 0;) {
    base -= kRansLanes;
    for (int g = 3; g >= 0; --g) {
      const uint8_t* sym = symbols + base + 8 * g;
      const __m256i fc = _mm256_setr_epi32(int(laneTable[0][sym[0]]), int(laneTable[1][sym[1]]), int(laneTable[2][sym[2]]), int(laneTable[3][sym[3]]),
                                           int(laneTable[4][sym[4]]), int(laneTable[5][sym[5]]), int(laneTable[6][sym[6]]), int(laneTable[7][sym[7]]));
      const __m256i freq = _mm256_and_si256(fc, low16), cum = _mm256_srli_epi32(fc, 16);
      const __m256i limit = _mm256_slli_epi32(freq, 32 - kRansScaleBits);
      const __m256i emit = _mm256_cmpeq_epi32(_mm256_max_epu32(x[g], limit), x[g]);  // x >= limit
      const unsigned mask = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(emit)));
      if (mask) {
        const __m256i w = _mm256_permutevar8x32_epi32(_mm256_and_si256(x[g], low16), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kGatherHigh[mask].data())));
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(w, words16), 0x08);  // qwords 0 and 2
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p - 8), _mm256_castsi256_si128(packed));
        p -= __builtin_popcount(mask);
        x[g] = _mm256_blendv_epi8(x[g], _mm256_srli_epi32(x[g], 16), emit);
      }
      // q = floor(x / freq), 4 lanes at a time in double. The quotient is correctly rounded, and
      // x / freq < 2^20 (x was renormalised below freq · 2^20); when it is not an integer it lies
      // at least 1/freq >= 2^-12 below the next one, far more than half an ulp (2^-34): truncating
      // gives the floor exactly. Faster here than multiplying by gathered reciprocals.
      const __m128i qLo = _mm256_cvttpd_epi32(_mm256_div_pd(ToDouble(_mm256_castsi256_si128(x[g])), _mm256_cvtepi32_pd(_mm256_castsi256_si128(freq))));
      const __m128i qHi = _mm256_cvttpd_epi32(_mm256_div_pd(ToDouble(_mm256_extracti128_si256(x[g], 1)), _mm256_cvtepi32_pd(_mm256_extracti128_si256(freq, 1))));
      const __m256i q = _mm256_set_m128i(qHi, qLo);
      x[g] = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(q, kRansScaleBits), _mm256_sub_epi32(x[g], _mm256_mullo_epi32(q, freq))), cum);
    }
  }
  for (int g = 0; g < 4; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(states + 8 * g), x[g]);
  return size_t(wordsEnd - p);
}

unsigned rans_decode_block(const RansTable* tables, unsigned contexts, const uint8_t* block, size_t bytes, uint8_t* dst, size_t n) {
  RansBlockReader r(block, bytes);
  __m256i x[4];
  for (int g = 0; g < 4; ++g) x[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.x + 8 * g));
  const __m256i slotMask = _mm256_set1_epi32(kRansScale - 1), freqMask = _mm256_set1_epi32(0xfff), zero = _mm256_setzero_si256();
  // Byte 0 of each 32-bit lane to the low 4 bytes of each 128-bit half.
  const __m256i lowBytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  // The contexts (a power of two up to 8) repeat within a register: lane j of register g looks
  // up table (8g + j) mod contexts, i.e. slot + its offset into the tables.
  const __m256i context = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i offset = _mm256_slli_epi32(_mm256_and_si256(context, _mm256_set1_epi32(int(contexts) - 1)), kRansScaleBits);
  const int* slots = reinterpret_cast<const int*>(tables[0].slot);
  size_t i = 0;
  for (; i + kRansLanes <= n; i += kRansLanes) {
    // Each group reads at most 8 words (16 bytes): the vector path needs them all inside the block.
    if (r.end - r.words < 4 * 16) break;
    for (int g = 0; g < 4; ++g) {
      const __m256i e = _mm256_i32gather_epi32(slots, _mm256_add_epi32(_mm256_and_si256(x[g], slotMask), offset), 4);
      const __m256i freq = _mm256_and_si256(_mm256_srli_epi32(e, 8), freqMask);
      __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(x[g], kRansScaleBits)), _mm256_srli_epi32(e, 20));
      const __m256i low = _mm256_cmpeq_epi32(_mm256_srli_epi32(v, 16), zero);
      const unsigned mask = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(low)));
      const __m256i w = _mm256_permutevar8x32_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r.words))),
                                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kSpread[mask].data())));
      x[g] = _mm256_blendv_epi8(v, _mm256_or_si256(_mm256_slli_epi32(v, 16), w), low);
      r.words += 2 * __builtin_popcount(mask);
      const __m256i b = _mm256_shuffle_epi8(e, lowBytes);
      const uint64_t bytes8 = uint64_t(uint32_t(_mm256_extract_epi32(b, 0))) | uint64_t(uint32_t(_mm256_extract_epi32(b, 4))) << 32;
      __builtin_memcpy(dst + i + 8 * g, &bytes8, 8);
    }
  }
  for (int g = 0; g < 4; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(r.x + 8 * g), x[g]);
  r.decode(tables, contexts, dst, i, n);
  return r.finish();
}

}  // namespace tz::avx2

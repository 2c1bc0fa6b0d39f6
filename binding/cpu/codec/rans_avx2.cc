// The rANS block decoder with AVX2: the 32 lanes as four registers of 8, one gather for their
// table entries, and the words of the lanes that renormalise loaded at once and spread to their
// lanes by a permutation. Must equal rans_scalar.cc bit for bit (the same words read, the same
// bytes written, the same verdict on a bad block); it hands the block's last symbols, and any
// group whose 8 words might lie past the block's end, to the scalar reader.
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

}  // namespace

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

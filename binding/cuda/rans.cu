// CUDA rANS block decoder and encoder. The decoder is the scalar reference's decoding
// (../cpu/codec/rans_block.h) spread over a warp: lane l of the warp is rANS lane l, so step s of
// a block decodes symbols 32s..32s+31, one per lane, each with its lane's context table (32 is a
// multiple of the contexts). The reference reads a word for each symbol whose state falls below
// 2^16, in symbol order; within a step that is lane order, so a ballot of the lanes that need one
// and a count of the lower lanes in it give each lane its word. The integer arithmetic is the
// reference's, so the symbols are its symbols, and a block is judged as RansBlockReader::finish
// judges it.
#include "../cpu/codec/rans.h"
#include "rans_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr unsigned kWarps = 8;  // blocks per thread block, one per warp
// A thread block whose blocks share one frame's tables, of at most this many contexts, reads them
// from shared memory (16 KiB a context); others read them through the cache.
constexpr unsigned kSharedContexts = 2;
constexpr unsigned kAll = 0xFFFFFFFFu;
constexpr unsigned kWindow = 32;  // words per window register

// Word j of a block's `count` words (little-endian, at any byte offset); 0 past the end.
__device__ __forceinline__ uint32_t word_at(const uint8_t* __restrict__ words, uint64_t j, uint64_t count) {
  return j < count ? uint32_t(__ldg(words + 2 * j)) | uint32_t(__ldg(words + 2 * j + 1)) << 8 : 0u;
}

__global__ void __launch_bounds__(32 * kWarps) decode_blocks(const uint8_t* __restrict__ src, const tzc_rans_block* __restrict__ blocks, uint64_t count,
                                                             const uint32_t* __restrict__ tables, uint8_t* __restrict__ dst, uint8_t* __restrict__ faults) {
  extern __shared__ uint32_t shared[];  // kSharedContexts tables
  const uint64_t first = uint64_t(blockIdx.x) * kWarps;
  const unsigned lane = threadIdx.x % 32;
  const uint32_t table0 = blocks[first].table, contexts0 = blocks[first].contexts;
  bool sharedTables = contexts0 <= kSharedContexts;
  for (unsigned w = 1; w < kWarps && first + w < count; ++w) sharedTables = sharedTables && blocks[first + w].table == table0 && blocks[first + w].contexts == contexts0;
  if (sharedTables) {  // the same for every thread of the block
    const uint32_t* t = tables + uint64_t(table0) * kRansScale;
    for (unsigned j = threadIdx.x; j < contexts0 * kRansScale; j += blockDim.x) shared[j] = __ldg(t + j);
    __syncthreads();
  }
  const uint64_t index = first + threadIdx.x / 32;
  if (index >= count) return;
  const tzc_rans_block b = blocks[index];
  const uint32_t* table = (sharedTables ? shared : tables + uint64_t(b.table) * kRansScale) + (lane % b.contexts) * kRansScale;
  const uint8_t* block = src + b.src;
  uint32_t x = uint32_t(block[4 * lane]) | uint32_t(block[4 * lane + 1]) << 8 | uint32_t(block[4 * lane + 2]) << 16 | uint32_t(block[4 * lane + 3]) << 24;
  const uint8_t* words = block + kRansStateBytes;
  const uint64_t nWords = (b.bytes - kRansStateBytes) / 2;
  const uint64_t outBytes = b.bits == 8 ? b.symbols : (b.symbols * b.bits + 7) / 8;
  const unsigned below = (1u << lane) - 1u, group = lane / 8, j = lane % 8;
  const uint32_t codeMask = (1u << b.bits) - 1u;
  uint8_t* out = dst + b.dst;
  // The words from `base` on, three windows of 32 (one per lane each): a step reads at most 32 words
  // from pos (pos - base < 32), so it needs the first two, and the third is loaded a step before
  // it can be needed.
  uint64_t base = 0, pos = 0;
  uint32_t w0 = word_at(words, lane, nWords), w1 = word_at(words, kWindow + lane, nWords), w2 = word_at(words, 2 * kWindow + lane, nWords);
  bool overrun = false;
  for (uint64_t i0 = 0; i0 < b.symbols; i0 += 32) {
    const bool active = i0 + lane < b.symbols;
    uint32_t symbol = 0;
    if (active) {
      const uint32_t e = table[x & (kRansScale - 1)];
      symbol = e & 0xFFu;
      x = ((e >> 8) & 0xFFFu) * (x >> kRansScaleBits) + (e >> 20);
    }
    const bool need = active && x < kRansLow;
    const unsigned mask = __ballot_sync(kAll, need), used = __popc(mask);
    if (pos + used > nWords) {  // the reference stops at the first symbol that finds no word
      overrun = true;
      break;
    }
    const unsigned k = unsigned(pos - base) + __popc(mask & below);  // < 64
    const uint32_t lo = __shfl_sync(kAll, w0, k % kWindow), hi = __shfl_sync(kAll, w1, k % kWindow);
    if (need) x = x << 16 | (k < kWindow ? lo : hi);
    pos += used;
    if (pos - base >= kWindow) {
      base += kWindow;
      w0 = w1;
      w1 = w2;
      w2 = word_at(words, base + 2 * kWindow + lane, nWords);
    }
    if (b.bits == 8) {
      if (active) out[i0 + lane] = uint8_t(symbol);
    } else {
      // Packed LSB first as pack_symbols packs: 8 codes fill `bits` bytes, so each group of 8 lanes
      // ORs its codes into one value and its first `bits` lanes store one byte of it. Step s's
      // bytes start at 4s·bits; codes past the block's end are zero, as the reference pads.
      uint64_t v = uint64_t(symbol & codeMask) << (j * b.bits);
      v |= __shfl_xor_sync(kAll, v, 1);
      v |= __shfl_xor_sync(kAll, v, 2);
      v |= __shfl_xor_sync(kAll, v, 4);
      const uint64_t at = (i0 / 8 + group) * b.bits + j;
      if (j < b.bits && at < outBytes) out[at] = uint8_t(v >> (8 * j));
    }
  }
  const bool home = __all_sync(kAll, x == kRansLow);
  if (lane == 0) faults[index] = overrun || pos != nWords || !home ? 1 : 0;
}

// The encoder: rans_encode_step spread over a warp, lane l being rANS lane l. The reference codes
// symbols from the last to the first, so a block is walked in steps of 32 symbols from its last
// (possibly partial) step down; within a step it goes from lane 31 down to lane 0, each emitting
// lane storing its word just below the previous one. A ballot of the emitting lanes gives lane l
// its word's place: below the words emitted so far, by the count of emitting lanes >= l. The
// quotient is the reference's (x · inverse) >> 44, from the 128-bit product.
constexpr unsigned kEncTableWords = sizeof(tzc_rans_enc_table) / 4;

__global__ void __launch_bounds__(32 * kWarps) encode_blocks(const uint8_t* __restrict__ symbols, const tzc_rans_enc_block* __restrict__ blocks, uint64_t count,
                                                             const tzc_rans_enc_table* __restrict__ tables, uint32_t* __restrict__ states,
                                                             uint16_t* __restrict__ words, uint64_t* __restrict__ wordCounts) {
  extern __shared__ uint64_t encShared[];  // a frame's kRansMaxContexts tables
  const uint64_t first = uint64_t(blockIdx.x) * kWarps;
  const unsigned lane = threadIdx.x % 32;
  const uint32_t table0 = blocks[first].table, contexts0 = blocks[first].contexts;
  bool sharedTables = true;
  for (unsigned w = 1; w < kWarps && first + w < count; ++w) sharedTables = sharedTables && blocks[first + w].table == table0 && blocks[first + w].contexts == contexts0;
  if (sharedTables) {  // the same for every thread of the block
    const uint32_t* t = reinterpret_cast<const uint32_t*>(tables + table0);
    uint32_t* sh = reinterpret_cast<uint32_t*>(encShared);
    for (unsigned j = threadIdx.x; j < contexts0 * kEncTableWords; j += blockDim.x) sh[j] = __ldg(t + j);
    __syncthreads();
  }
  const uint64_t index = first + threadIdx.x / 32;
  if (index >= count) return;
  const tzc_rans_enc_block b = blocks[index];
  const tzc_rans_enc_table* table = (sharedTables ? reinterpret_cast<const tzc_rans_enc_table*>(encShared) : tables + b.table) + lane % b.contexts;
  const uint8_t* block = symbols + b.symbols_at;
  uint16_t* end = words + b.symbols_at + b.symbols;  // the words go downwards from here
  const unsigned atOrAbove = ~((1u << lane) - 1u);
  uint32_t x = kRansLow;
  uint64_t used = 0;
  for (uint64_t i0 = (b.symbols + 31) / 32 * 32; i0 > 0;) {
    i0 -= 32;
    const bool active = i0 + lane < b.symbols;
    uint32_t freq = 0, cum = 0;
    uint64_t inverse = 0;
    if (active) {
      const uint8_t s = block[i0 + lane];
      const uint32_t fc = table->freq_cum[s];
      freq = fc & 0xFFFFu, cum = fc >> 16, inverse = table->inverse[s];
    }
    const bool emit = active && x >= freq << (32 - kRansScaleBits);
    const unsigned mask = __ballot_sync(kAll, emit);
    if (emit) {
      end[-int64_t(used + __popc(mask & atOrAbove))] = uint16_t(x);
      x >>= 16;
    }
    used += __popc(mask);
    if (active) {
      const uint64_t lo = uint64_t(x) * inverse, hi = __umul64hi(uint64_t(x), inverse);
      const uint32_t q = uint32_t(hi << 20 | lo >> 44);
      x = (q << kRansScaleBits) + (x - q * freq) + cum;
    }
  }
  states[32 * index + lane] = x;
  if (lane == 0) wordCounts[index] = used;
}

}  // namespace

cudaError_t launch_rans_encode(const uint8_t* symbols, const tzc_rans_enc_block* blocks, uint64_t count, const tzc_rans_enc_table* tables, uint32_t* states,
                               uint16_t* words, uint64_t* wordCounts, cudaStream_t s) {
  if (count == 0) return cudaSuccess;
  const uint64_t grid = (count + kWarps - 1) / kWarps;
  if (grid > 0x7FFFFFFFu) return cudaErrorInvalidValue;
  encode_blocks<<<unsigned(grid), 32 * kWarps, kRansMaxContexts * sizeof(tzc_rans_enc_table), s>>>(symbols, blocks, count, tables, states, words, wordCounts);
  return cudaGetLastError();
}

cudaError_t launch_rans_decode(const uint8_t* src, const tzc_rans_block* blocks, uint64_t count, const uint32_t* tables, uint8_t* dst, uint8_t* faults,
                               cudaStream_t s) {
  if (count == 0) return cudaSuccess;
  const uint64_t grid = (count + kWarps - 1) / kWarps;
  if (grid > 0x7FFFFFFFu) return cudaErrorInvalidValue;
  decode_blocks<<<unsigned(grid), 32 * kWarps, kSharedContexts * kRansScale * sizeof(uint32_t), s>>>(src, blocks, count, tables, dst, faults);
  return cudaGetLastError();
}

}  // namespace tz::cuda

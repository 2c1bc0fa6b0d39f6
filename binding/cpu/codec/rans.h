// The rANS entropy stage (docs/FORMAT.md, "rANS pieces"; docs/METHODS.md, "The entropy stage"):
// a static range-ANS coder over the piece's symbols (its bytes, or the codes packed in them), one
// frequency table per context and piece, 32 interleaved states so that decoding runs 8 lanes at
// a time (AVX2) and blocks decode independently.
// States live in [kRansLow, 2^32) and renormalise by 16-bit words: each symbol moves at most one
// word, which is what lets a SIMD decoder handle 8 lanes without branches.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tz {

constexpr unsigned kRansScaleBits = 12;
constexpr uint32_t kRansScale = 1u << kRansScaleBits;  // frequencies sum to this
constexpr unsigned kRansLanes = 32;
constexpr uint32_t kRansLow = 1u << 16;
constexpr size_t kRansStateBytes = 4 * kRansLanes;
// Symbols per block: small enough that a piece's blocks decode in parallel, large enough that
// the 128 bytes of states per block cost about 0.1 % on an exponent plane.
constexpr size_t kRansBlockSymbols = size_t(1) << 18;
constexpr unsigned kRansMaxContexts = 8;
constexpr uint8_t kRansVersion = 1;
constexpr uint8_t kRansCoded = 0;     // frame kind: coded blocks
constexpr uint8_t kRansConstant = 1;  // frame kind: one byte value repeated

// How a piece's bytes are modelled (docs/METHODS.md, "The entropy stage"): as codes of `bits`
// bits packed LSB first (bitpack.h; 8: the bytes themselves), symbol i coded with the frequency
// table of context i mod `contexts` (1, 2, 4 or 8: e.g. 2 for the two bytes of f16 values).
struct RansModel {
  unsigned bits = 8;
  unsigned contexts = 1;
};

// The symbols a piece of `bytes` bytes holds under `bits`: every bit covered, the last code's
// bits past the end zero.
inline size_t rans_symbols(size_t bytes, unsigned bits) { return (bytes * 8 + bits - 1) / bits; }

// The decoder's lookup for one context: per slot s in [0, kRansScale),
// symbol | freq << 8 | (s - cum) << 20.
struct RansTable {
  uint32_t slot[kRansScale];
};

// Frequencies (256, each 0..kRansScale-1, summing to kRansScale) into the decoder's table.
void rans_build_table(const uint16_t freq[256], RansTable& t);

// The normalised frequencies of one context's symbol counts over an alphabet of `alphabet`
// symbols: every present symbol gets at least 1, the sum is kRansScale; with fewer than two
// present symbols, symbol s (the present one, else 0) gets kRansScale - 1 and (s + 1) mod
// alphabet gets 1. Integer arithmetic only, so the same everywhere.
void rans_normalise(const uint64_t counts[256], unsigned alphabet, uint16_t freq[256]);

// The encoder's lookup for one context, per symbol: its frequency and cumulative frequency, and
// the scalar encoder's exact division of a state x < 2^32 by the frequency: (x · inverse) >> 44,
// exact because freq · x < 2^44. (The AVX2 encoder divides in double: rans_avx2.cc.)
struct RansEncTable {
  uint32_t freqCum[256];  // freq | cum << 16
  uint64_t inverse[256];
};

void rans_build_enc_table(const uint16_t freq[256], RansEncTable& t);

// Appends one coded block as the frame stores it: the kRansStateBytes of final states, then its
// `count` 16-bit words, words[0] the first the decoder reads.
void rans_append_block(const uint32_t states[kRansLanes], const uint16_t* words, size_t count, std::vector<uint8_t>& out);

// Encodes one block of n symbols into its states and words (kernels.h row rans_encode_block),
// then appends it (rans_append_block).
void rans_encode_block(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, std::vector<uint8_t>& out);

// What rans_encode decides for a piece before coding its blocks, so that the blocks can be coded
// elsewhere (a GPU) and the frame finished the same (rans_finish).
struct RansPlan {
  // coded: the header and tables (the block sizes and blocks follow); else the whole frame: a
  // constant piece's, or empty (store the piece raw).
  std::vector<uint8_t> frame;
  bool coded = false;
  unsigned bits = 8, contexts = 1;
  size_t blockSymbols = 0, count = 0;  // count: the piece's symbols
  std::vector<RansEncTable> tables;    // one per context
  const uint8_t* src = nullptr;        // the piece
  std::vector<uint8_t> unpacked;       // its codes, one a byte, when bits < 8

  const uint8_t* symbols() const { return bits < 8 ? unpacked.data() : src; }
  size_t blocks() const { return coded ? (count + blockSymbols - 1) / blockSymbols : 0; }
  // Block b codes symbols [b * blockSymbols, + block_symbols(b)); it starts in context 0 again.
  size_t block_symbols(size_t b) const { return std::min(blockSymbols, count - b * blockSymbols); }
};

RansPlan rans_plan(const uint8_t* src, size_t n, RansModel model, size_t blockSymbols = kRansBlockSymbols);

// The plan's frame: for a coded plan, block(b, out) appends block b (rans_append_block) after
// the block sizes. Leaves p.frame moved from.
std::vector<uint8_t> rans_finish(RansPlan& p, const std::function<void(size_t b, std::vector<uint8_t>& out)>& block);

// A whole frame for the piece's n bytes, blocks of blockSymbols symbols; empty when the frame's
// size, estimated from the frequencies, would not save 1 % (then the piece is stored raw).
std::vector<uint8_t> rans_encode(const uint8_t* src, size_t n, RansModel model, size_t blockSymbols = kRansBlockSymbols);

// A malformed frame; the message says what is wrong.
struct RansError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The errors of a block that does not decode, and of codes with bits set past the piece's end,
// the same whichever device decoded the block.
RansError rans_block_error(size_t b);
RansError rans_trailing_error();

// A frame read and checked up to its blocks (rans_parse), for a piece of n bytes: its blocks can
// then be decoded independently, in parallel (rans_decode_block_of).
struct RansFrame {
  bool constant = false;
  uint8_t value = 0;
  unsigned bits = 8, contexts = 1;
  size_t blockSymbols = 0, symbols = 0, bytes = 0;  // bytes: the piece's
  std::vector<RansTable> tables;
  std::vector<std::pair<const uint8_t*, size_t>> blocks;  // where each block lies in the frame
};

// Reads and checks a frame's header, tables and block sizes; throws RansError.
RansFrame rans_parse(const uint8_t* frame, size_t size, size_t n);

struct KernelTable;
// Decodes block b of a parsed frame into its part of dst (the piece's n bytes) with the table's
// block decoder (a constant frame: all of dst, as its one block); throws RansError.
void rans_decode_block_of(const KernelTable& k, const RansFrame& f, size_t b, uint8_t* dst);

// The blocks rans_decode_block_of takes for a parsed frame.
inline size_t rans_block_count(const RansFrame& f) { return f.constant ? 1 : f.blocks.size(); }


}  // namespace tz

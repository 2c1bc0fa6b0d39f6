// The rANS frame (docs/FORMAT.md, "rANS pieces"): frequencies, the encoder, and the frame
// reader that hands each block to the kernel table's decoder.
#include "rans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "../runtime/kernels.h"
#include "bitpack.h"
#include "bitpack_eight.h"

namespace tz {

namespace {

void put_u16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

uint32_t get_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// Symbol counts per context (symbol i in context i mod contexts, a power of two).
void count_symbols(const uint8_t* src, size_t n, unsigned contexts, uint64_t (*counts)[256]) {
  // Four tables per context phase, so that runs of one byte do not serialise on one counter;
  // 32-bit counters, flushed every 2^30 symbols before one could overflow.
  for (size_t begin = 0; begin < n; begin += size_t(1) << 30) {
    const size_t end = std::min(n, begin + (size_t(1) << 30));
    std::vector<uint32_t> c(8 * 256, 0);  // c[(i mod 8) * 256 + symbol]
    size_t i = begin;
    for (; i + 8 <= end; i += 8)
      for (unsigned j = 0; j < 8; ++j) ++c[j * 256 + src[i + j]];
    for (; i < end; ++i) ++c[(i % 8) * 256 + src[i]];
    // begin is a multiple of 8, so phase j holds symbols i with i mod 8 = j: context j mod contexts.
    for (unsigned j = 0; j < 8; ++j)
      for (int s = 0; s < 256; ++s) counts[j % contexts][s] += c[j * 256 + s];
  }
}

// 2^16 · log2(kRansScale / f), rounded down, for f in 1..kRansScale: the cost in bits (16
// fractional) of coding a symbol of frequency f, in integer arithmetic (the square-and-halve
// binary logarithm) so that the estimate below decides alike on every machine.
const std::vector<uint32_t>& symbol_costs() {
  static const std::vector<uint32_t> costs = [] {
    std::vector<uint32_t> c(kRansScale + 1, 0);
    for (uint32_t f = 1; f <= kRansScale; ++f) {
      unsigned __int128 y = ((unsigned __int128)kRansScale << 62) / f;  // in [1, 4096), 62 fraction bits
      const unsigned __int128 two = (unsigned __int128)2 << 62;
      uint32_t r = 0;
      while (y >= two) y >>= 1, r += 1u << 16;
      for (int b = 15; b >= 0; --b) {
        y = (y * y) >> 62;
        if (y >= two) y >>= 1, r |= 1u << b;
      }
      c[f] = r;
    }
    return c;
  }();
  return costs;
}

// Codes of B < 8 bits to one byte each and back, 8 codes (B bytes) at a time (bitpack_eight.h):
// the generic bitpack.h loop costs more than the coder itself.
template <unsigned B>
void unpack_fast(const uint8_t* src, size_t groups, uint8_t* out) {
  const size_t whole = groups > 8 / B ? groups - 8 / B : 0;  // groups with 8 bytes readable
  for (size_t g = 0; g < groups; ++g) {
    const uint64_t v = unpack_eight<B>(load_packed<B>(src + g * B, g < whole));
    std::memcpy(out + 8 * g, &v, 8);
  }
}

template <unsigned B>
void pack_fast(const uint8_t* codes, size_t groups, uint8_t* dst) {
  for (size_t g = 0; g < groups; ++g) {
    uint64_t v;
    std::memcpy(&v, codes + 8 * g, 8);
    v = pack_eight<B>(v);
    std::memcpy(dst + g * B, &v, B);
  }
}

// unpack_codes / pack_codes of n codes, whole groups of 8 by the fast loops.
void unpack_symbols(const uint8_t* src, size_t n, unsigned bits, uint8_t* out) {
  static void (*const fast[8])(const uint8_t*, size_t, uint8_t*) = {nullptr, unpack_fast<1>, unpack_fast<2>, unpack_fast<3>, unpack_fast<4>, unpack_fast<5>, unpack_fast<6>, unpack_fast<7>};
  const size_t groups = n / 8;
  fast[bits](src, groups, out);
  unpack_codes(src + groups * bits, n - 8 * groups, bits, out + 8 * groups);
}

void pack_symbols(const uint8_t* codes, size_t n, unsigned bits, uint8_t* dst) {
  static void (*const fast[8])(const uint8_t*, size_t, uint8_t*) = {nullptr, pack_fast<1>, pack_fast<2>, pack_fast<3>, pack_fast<4>, pack_fast<5>, pack_fast<6>, pack_fast<7>};
  const size_t groups = n / 8;
  fast[bits](codes, groups, dst);
  pack_codes(codes + 8 * groups, n - 8 * groups, bits, dst + groups * bits);
}

// What the frame of `count` symbols would take, from their frequencies (within a fraction of a
// percent of the result, in integer arithmetic so that every machine decides alike), or 0 when
// that does not shrink their `bytes` raw bytes by 1 %. Leaves the frequencies in freq.
size_t worth_coding(const uint8_t* symbols, size_t count, size_t bytes, unsigned bits, unsigned contexts, size_t blockSymbols, uint16_t (*freq)[256]) {
  uint64_t counts[kRansMaxContexts][256] = {};
  count_symbols(symbols, count, contexts, counts);
  const std::vector<uint32_t>& cost = symbol_costs();
  uint64_t bits16 = 0;  // 2^16 · bits
  size_t tables = 0;
  for (unsigned c = 0; c < contexts; ++c) {
    rans_normalise(counts[c], 1u << bits, freq[c]);
    for (int s = 0; s < 256; ++s)
      if (freq[c][s]) bits16 += counts[c][s] * cost[freq[c][s]], tables += 2;
    tables += 32;
  }
  const size_t estimate = 8 + tables + (bits16 >> 19) + (kRansStateBytes + 4) * ((count + blockSymbols - 1) / blockSymbols);
  return estimate * 100 > bytes * 99 ? 0 : estimate;
}

}  // namespace

void rans_normalise(const uint64_t counts[256], unsigned alphabet, uint16_t freq[256]) {
  uint64_t n = 0;
  int present = 0, last = 0;
  for (unsigned s = 0; s < alphabet; ++s)
    if (counts[s]) n += counts[s], ++present, last = int(s);
  std::fill(freq, freq + 256, 0);
  if (present < 2) {
    freq[last] = kRansScale - 1;
    freq[(last + 1) % alphabet] = 1;
    return;
  }
  // Floor of the exact share, at least 1 for a present symbol.
  int64_t sum = 0;
  for (unsigned s = 0; s < alphabet; ++s) {
    const uint64_t share = uint64_t((unsigned __int128)counts[s] * kRansScale / n);
    freq[s] = counts[s] ? uint16_t(std::max<uint64_t>(1, share)) : 0;
    sum += freq[s];
  }
  // Short: one more to the symbols with the largest remainders (ties: the lower symbol).
  if (sum < int64_t(kRansScale)) {
    int order[256];
    for (int s = 0; s < 256; ++s) order[s] = s;
    auto remainder = [&](int s) { return s < int(alphabet) ? uint64_t((unsigned __int128)counts[s] * kRansScale % n) : 0; };
    std::stable_sort(order, order + 256, [&](int a, int b) { return remainder(a) > remainder(b); });
    for (int j = 0; sum < int64_t(kRansScale); j = (j + 1) % 256)
      if (order[j] < int(alphabet) && counts[order[j]]) ++freq[order[j]], ++sum;
  }
  // Over (symbols raised to 1): one less, each time where it costs least (count / freq smallest,
  // compared exactly by cross products), never below 1.
  while (sum > int64_t(kRansScale)) {
    int best = -1;
    for (unsigned s = 0; s < alphabet; ++s)
      if (freq[s] > 1 && (best < 0 || (unsigned __int128)counts[s] * freq[best] < (unsigned __int128)counts[best] * freq[s])) best = int(s);
    --freq[best], --sum;
  }
}

void rans_build_table(const uint16_t freq[256], RansTable& t) {
  uint32_t cum = 0;
  for (uint32_t s = 0; s < 256; ++s) {
    for (uint32_t j = 0; j < freq[s]; ++j) t.slot[cum + j] = s | uint32_t(freq[s]) << 8 | j << 20;
    cum += freq[s];
  }
}

void rans_build_enc_table(const uint16_t freq[256], RansEncTable& t) {
  uint32_t cum = 0;
  for (int s = 0; s < 256; ++s) {
    const uint32_t f = freq[s];
    t.freqCum[s] = f | cum << 16;
    t.inverse[s] = f ? ((uint64_t(1) << 44) + f - 1) / f : 0;
    cum += f;
  }
}

void rans_append_block(const uint32_t states[kRansLanes], const uint16_t* words, size_t count, std::vector<uint8_t>& out) {
  for (unsigned l = 0; l < kRansLanes; ++l) put_u32(out, states[l]);
  // The words as little-endian u16, as x86-64 holds them.
  const size_t at = out.size();
  out.resize(at + 2 * count);
  std::memcpy(out.data() + at, words, 2 * count);
}

void rans_encode_block(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, std::vector<uint8_t>& out) {
  // Words are written downwards from the end of `words`; the encoders need room for one word
  // per symbol and 8 spare words below (the AVX2 encoder stores 8 words at a time).
  std::unique_ptr<uint16_t[]> words(new uint16_t[n + 8]);  // not zeroed: every word read is written
  uint32_t x[kRansLanes];
  const size_t count = kernels().rans_encode_block(tables, contexts, symbols, n, x, words.get() + n + 8);
  rans_append_block(x, words.get() + n + 8 - count, count, out);
}

RansPlan rans_plan(const uint8_t* src, size_t n, RansModel model, size_t blockSymbols) {
  RansPlan p;
  p.src = src;
  p.frame = {kRansVersion};
  if (std::all_of(src, src + n, [&](uint8_t b) { return b == src[0]; })) {
    p.frame.push_back(kRansConstant);
    p.frame.push_back(n ? src[0] : 0);
    return p;
  }
  const unsigned bits = model.bits, contexts = model.contexts;
  // The symbols: the bytes, or the codes unpacked from them (the last byte padded with zeros).
  const size_t count = rans_symbols(n, bits);
  if (bits < 8) {
    std::vector<uint8_t> padded(packed_bytes(count, bits), 0);
    std::memcpy(padded.data(), src, n);
    p.unpacked.resize(count);
    unpack_symbols(padded.data(), count, bits, p.unpacked.data());
  }
  p.bits = bits;
  const uint8_t* symbols = p.symbols();
  uint16_t freq[kRansMaxContexts][256];
  // A large piece is first judged on its first block: one that would not shrink (the mantissa
  // planes of lossless storage) costs the histogram of one block, not of the whole piece.
  RansPlan raw;  // stores the piece raw
  raw.src = src;
  if (count >= 8 * blockSymbols && !worth_coding(symbols, blockSymbols, blockSymbols * bits / 8, bits, contexts, blockSymbols, freq)) return raw;
  const size_t estimate = worth_coding(symbols, count, n, bits, contexts, blockSymbols, freq);
  if (!estimate) return raw;
  p.coded = true;
  p.contexts = contexts;
  p.blockSymbols = blockSymbols;
  p.count = count;
  std::vector<uint8_t>& out = p.frame;
  out.reserve(estimate + estimate / 64 + 256);
  out.push_back(kRansCoded);
  out.push_back(uint8_t(bits));
  out.push_back(uint8_t(contexts));
  put_u32(out, uint32_t(blockSymbols));
  p.tables.resize(contexts);
  for (unsigned c = 0; c < contexts; ++c) {
    rans_build_enc_table(freq[c], p.tables[c]);
    uint8_t bitmap[32] = {};
    for (int s = 0; s < 256; ++s)
      if (freq[c][s]) bitmap[s >> 3] |= uint8_t(1u << (s & 7));
    out.insert(out.end(), bitmap, bitmap + 32);
    for (int s = 0; s < 256; ++s)
      if (freq[c][s]) put_u16(out, freq[c][s]);
  }
  return p;
}

std::vector<uint8_t> rans_finish(RansPlan& p, const std::function<void(size_t b, std::vector<uint8_t>& out)>& block) {
  std::vector<uint8_t> out = std::move(p.frame);
  if (!p.coded) return out;
  const size_t blocks = p.blocks();
  const size_t sizesAt = out.size();
  out.resize(out.size() + 4 * blocks);
  for (size_t b = 0; b < blocks; ++b) {
    const size_t before = out.size();
    block(b, out);
    const uint32_t size = uint32_t(out.size() - before);
    for (int j = 0; j < 4; ++j) out[sizesAt + 4 * b + j] = uint8_t(size >> (8 * j));
  }
  return out;
}

std::vector<uint8_t> rans_encode(const uint8_t* src, size_t n, RansModel model, size_t blockSymbols) {
  RansPlan p = rans_plan(src, n, model, blockSymbols);
  const uint8_t* symbols = p.symbols();
  return rans_finish(p, [&](size_t b, std::vector<uint8_t>& out) {
    // blockSymbols is a multiple of 8 (of contexts): block b starts in context 0 again.
    rans_encode_block(p.tables.data(), p.contexts, symbols + b * p.blockSymbols, p.block_symbols(b), out);
  });
}

RansFrame rans_parse(const uint8_t* frame, size_t size, size_t n) {
  RansFrame f;
  f.bytes = n;
  if (size < 3) throw RansError("rANS piece: " + std::to_string(size) + " bytes is too short for a frame");
  if (frame[0] != kRansVersion) throw RansError("rANS piece: unknown version " + std::to_string(frame[0]));
  if (frame[1] == kRansConstant) {
    if (size != 3) throw RansError("rANS piece: a constant frame is 3 bytes, not " + std::to_string(size));
    f.constant = true;
    f.value = frame[2];
    return f;
  }
  if (frame[1] != kRansCoded) throw RansError("rANS piece: unknown frame kind " + std::to_string(frame[1]));
  size_t at = 2;
  auto need = [&](size_t bytes, const char* what) {
    if (size - at < bytes) throw RansError(std::string("rANS piece: truncated in ") + what);
  };
  need(2 + 4, "the header");
  f.bits = frame[at], f.contexts = frame[at + 1];
  at += 2;
  if (f.bits < 1 || f.bits > 8) throw RansError("rANS piece: symbols of " + std::to_string(f.bits) + " bits (1 to 8)");
  if (f.contexts != 1 && f.contexts != 2 && f.contexts != 4 && f.contexts != 8) throw RansError("rANS piece: " + std::to_string(f.contexts) + " contexts (1, 2, 4 or 8)");
  f.blockSymbols = get_u32(frame + at);
  at += 4;
  if (f.blockSymbols == 0 || f.blockSymbols % 8) throw RansError("rANS piece: block size " + std::to_string(f.blockSymbols) + " is not a positive multiple of 8");
  f.tables.resize(f.contexts);
  for (unsigned c = 0; c < f.contexts; ++c) {
    need(32, "the frequency tables");
    const uint8_t* bitmap = frame + at;
    at += 32;
    uint16_t freq[256] = {};
    uint32_t sum = 0;
    for (unsigned s = 0; s < 256; ++s) {
      if (!(bitmap[s >> 3] >> (s & 7) & 1)) continue;
      if (s >> f.bits) throw RansError("rANS piece: byte " + std::to_string(s) + " has a frequency, but symbols have " + std::to_string(f.bits) + " bits");
      need(2, "the frequency tables");
      freq[s] = uint16_t(frame[at] | frame[at + 1] << 8);
      at += 2;
      if (freq[s] == 0 || freq[s] >= kRansScale) throw RansError("rANS piece: frequency " + std::to_string(freq[s]) + " of symbol " + std::to_string(s) + " is outside 1.." + std::to_string(kRansScale - 1));
      sum += freq[s];
    }
    if (sum != kRansScale) throw RansError("rANS piece: the frequencies sum to " + std::to_string(sum) + ", not " + std::to_string(kRansScale));
    rans_build_table(freq, f.tables[c]);
  }
  f.symbols = rans_symbols(n, f.bits);
  const size_t blocks = f.symbols ? (f.symbols - 1) / f.blockSymbols + 1 : 0;
  if (blocks > (size - at) / 4) throw RansError("rANS piece: truncated in the block sizes");
  const uint8_t* sizes = frame + at;
  at += 4 * blocks;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t bytes = get_u32(sizes + 4 * b);
    if (bytes < kRansStateBytes || (bytes - kRansStateBytes) % 2) throw RansError("rANS piece: block " + std::to_string(b) + " has an impossible size " + std::to_string(bytes));
    need(bytes, "a block");
    f.blocks.push_back({frame + at, bytes});
    at += bytes;
  }
  if (at != size) throw RansError("rANS piece: " + std::to_string(size - at) + " bytes after the last block");
  return f;
}

RansError rans_block_error(size_t b) { return RansError("rANS piece: block " + std::to_string(b) + " does not decode (corrupted words or states)"); }

RansError rans_trailing_error() { return RansError("rANS piece: the last code has bits set past the piece's end"); }

void rans_decode_block_of(const KernelTable& k, const RansFrame& f, size_t b, uint8_t* dst) {
  if (f.constant) {
    std::memset(dst, f.value, f.bytes);
    return;
  }
  const size_t begin = b * f.blockSymbols, m = std::min(f.blockSymbols, f.symbols - begin);
  const unsigned bits = f.bits;
  // Codes of fewer than 8 bits are decoded into `symbols`, then packed.
  thread_local std::vector<uint8_t> symbols, packed;
  if (bits < 8) symbols.resize(m);
  uint8_t* out = bits < 8 ? symbols.data() : dst + begin;
  if (k.rans_decode_block(f.tables.data(), f.contexts, f.blocks[b].first, f.blocks[b].second, out, m))
    throw rans_block_error(b);
  if (bits < 8) {
    // blockSymbols is a multiple of 8: block b's codes start on a byte boundary.
    const size_t first = begin * bits / 8, want = std::min(f.bytes - first, packed_bytes(m, bits));
    packed.assign(packed_bytes(m, bits), 0);
    pack_symbols(symbols.data(), m, bits, packed.data());
    if (packed.size() > want && packed.back() != 0) throw rans_trailing_error();
    std::memcpy(dst + first, packed.data(), want);
  }
}

}  // namespace tz

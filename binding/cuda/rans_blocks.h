// The blocks of a tzc_rans_decode or tzc_rans_encode call (tensorzip_cuda.h): the bytes each one
// writes, and the checks made before any is coded, shared by the library and the test stand-in
// so that both refuse a call alike. Host code only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensorzip_cuda.h"

namespace tz::cuda {

// The symbols themselves (8 bits), else the codes packed from a byte boundary.
inline uint64_t rans_output_bytes(const tzc_rans_block& b) { return b.bits == 8 ? b.symbols : (b.symbols * b.bits + 7) / 8; }

// Empty when block b can be decoded within the buffers, else why not.
inline std::string rans_block_problem(const tzc_rans_block& b, uint64_t src_bytes, uint64_t table_count, uint64_t dst_bytes) {
  if (b.bits < 1 || b.bits > 8) return "symbols of " + std::to_string(b.bits) + " bits (1 to 8)";
  if (b.contexts != 1 && b.contexts != 2 && b.contexts != 4 && b.contexts != 8) return std::to_string(b.contexts) + " contexts (1, 2, 4 or 8)";
  if (b.table > table_count || table_count - b.table < b.contexts)
    return "tables " + std::to_string(b.table) + " + " + std::to_string(b.contexts) + " past the " + std::to_string(table_count) + " given";
  if (b.bytes < 128 || (b.bytes - 128) % 2) return "an impossible size " + std::to_string(b.bytes) + " (128 bytes of states and whole words)";
  if (b.src > src_bytes || src_bytes - b.src < b.bytes) return "it lies past the end of src";
  // A frame's blocks hold at most 2^32 - 1 symbols (its block size is a u32).
  if (b.symbols > 0xFFFFFFFFull) return std::to_string(b.symbols) + " symbols (at most 2^32 - 1)";
  if (b.dst > dst_bytes || dst_bytes - b.dst < rans_output_bytes(b)) return "its output lies past the end of dst";
  return "";
}

// Empty when encoder block b lies within the buffers, else why not.
inline std::string rans_enc_block_problem(const tzc_rans_enc_block& b, uint64_t symbol_bytes, uint64_t table_count) {
  if (b.contexts != 1 && b.contexts != 2 && b.contexts != 4 && b.contexts != 8) return std::to_string(b.contexts) + " contexts (1, 2, 4 or 8)";
  if (b.table > table_count || table_count - b.table < b.contexts)
    return "tables " + std::to_string(b.table) + " + " + std::to_string(b.contexts) + " past the " + std::to_string(table_count) + " given";
  if (b.symbols > 0xFFFFFFFFull) return std::to_string(b.symbols) + " symbols (at most 2^32 - 1)";
  if (b.symbols_at > symbol_bytes || symbol_bytes - b.symbols_at < b.symbols) return "it lies past the end of symbols";
  return "";
}

// Empty when no two encoder blocks' word regions overlap, else which two do.
inline std::string rans_enc_overlap(const tzc_rans_enc_block* blocks, uint64_t count) {
  std::vector<std::pair<uint64_t, uint64_t>> order;  // (start, block), non-empty regions
  for (uint64_t i = 0; i < count; ++i)
    if (blocks[i].symbols) order.push_back({blocks[i].symbols_at, i});
  std::sort(order.begin(), order.end());
  for (size_t k = 1; k < order.size(); ++k) {
    const tzc_rans_enc_block& prev = blocks[order[k - 1].second];
    if (prev.symbols_at + prev.symbols > order[k].first)
      return "blocks " + std::to_string(order[k - 1].second) + " and " + std::to_string(order[k].second) + " overlap";
  }
  return "";
}

}  // namespace tz::cuda

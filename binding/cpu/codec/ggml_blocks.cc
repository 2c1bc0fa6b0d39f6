#include "ggml_blocks.h"

#include "../quant/decode_fault.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace tz {

namespace {

// Code i of a stream packed LSB first at `bits` bits per code.
inline unsigned code_at(const uint8_t* packed, size_t i, unsigned bits) {
  const size_t bit = i * bits;
  const unsigned pair = packed[bit / 8] | (bit % 8 + bits > 8 ? unsigned(packed[bit / 8 + 1]) << 8 : 0u);
  return (pair >> (bit % 8)) & ((1u << bits) - 1);
}

}  // namespace

size_t ggml_block_bytes(unsigned bits) {
  switch (bits) {
    case 8: return 34;  // d, qs[32]
    case 5: return 22;  // d, qh[4], qs[16]
    case 4: return 18;  // d, qs[16]
    default: return 0;
  }
}

void rtn_to_ggml_blocks(const uint8_t* packed, const uint16_t* scales, size_t groups, unsigned bits, uint8_t* out) {
  const size_t blockBytes = ggml_block_bytes(bits);
  if (!blockBytes) throw std::invalid_argument("ggml blocks: rtn codes of 4, 5 or 8 bits only");
  // As rtn's decoder: a negative or non-finite scale only comes from a damaged stream.
  if (f16_scales_fault(scales, groups)) throw std::runtime_error("an rtn scale is negative or not finite (corrupted data)");
  for (size_t g = 0; g < groups; ++g) {
    uint8_t* b = out + g * blockBytes;
    std::memcpy(b, scales + g, 2);  // little-endian f16, as ggml stores d
    unsigned codes[32];
    for (unsigned j = 0; j < 32; ++j) {
      codes[j] = code_at(packed, g * 32 + j, bits);
      // rtn writes codes 0 … 2·qmax; the all-ones code only comes from a damaged stream.
      if (codes[j] == (1u << bits) - 1) throw std::runtime_error("rtn code " + std::to_string(codes[j]) + " is out of range for " + std::to_string(bits) + " bits (corrupted data)");
    }
    if (bits == 8) {
      for (unsigned j = 0; j < 32; ++j) b[2 + j] = uint8_t(int(codes[j]) - 127);
    } else if (bits == 4) {
      for (unsigned j = 0; j < 16; ++j) b[2 + j] = uint8_t((codes[j] + 1) | ((codes[j + 16] + 1) << 4));
    } else {
      uint32_t qh = 0;
      for (unsigned j = 0; j < 32; ++j) qh |= uint32_t(((codes[j] + 1) >> 4) & 1) << j;
      std::memcpy(b + 2, &qh, 4);  // little-endian
      for (unsigned j = 0; j < 16; ++j) b[6 + j] = uint8_t(((codes[j] + 1) & 15) | (((codes[j + 16] + 1) & 15) << 4));
    }
  }
}

}  // namespace tz

// rtn with groups of 32 stored as llama.cpp's block types, bit for bit (docs/FORMAT.md, "GGUF
// export"): rtn decodes (code − qmax)·s with an f16 scale s, and so do Q8_0 (int8 code − 0 with
// d = s), Q4_0 (nibble − 8) and Q5_0 (5-bit value − 16) once the code is offset to their zero:
// Q8_0 stores code − 127, Q4_0 and Q5_0 store code + 1.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tz {

// Bytes of one 32-weight block of the ggml type for rtn codes of `bits` (8: Q8_0, 5: Q5_0,
// 4: Q4_0), or 0 for any other width.
size_t ggml_block_bytes(unsigned bits);

// groups × 32 codes of `bits` bits packed LSB first, one f16 scale per group -> `groups` blocks.
// Throws on a code rtn never writes (all ones) and on a negative or non-finite scale.
void rtn_to_ggml_blocks(const uint8_t* packed, const uint16_t* scales, size_t groups, unsigned bits, uint8_t* out);

}  // namespace tz

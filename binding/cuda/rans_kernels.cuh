// Device-side launchers of the rANS block decoder and encoder (the format: ../cpu/codec/rans.h),
// shared by the C ABI and the harness.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "tensorzip_cuda.h"

namespace tz::cuda {

// Device buffers: blocks[0..count) as tzc_rans_decode takes them (offsets into src and dst,
// checked by rans_block_problem), tables their slot tables. Decodes every block, one warp each,
// into dst, and sets faults[i] to 1 where block i does not decode exactly, else 0.
cudaError_t launch_rans_decode(const uint8_t* src, const tzc_rans_block* blocks, uint64_t count, const uint32_t* tables, uint8_t* dst, uint8_t* faults,
                               cudaStream_t s);

// Device buffers: blocks[0..count) as tzc_rans_encode takes them (checked by
// rans_enc_block_problem and rans_enc_overlap), tables their encoder tables. Encodes every block,
// one warp each: states[32 i + l] is block i's final state of lane l, wordCounts[i] its word
// count, and its words end its region words[symbols_at, symbols_at + symbols).
cudaError_t launch_rans_encode(const uint8_t* symbols, const tzc_rans_enc_block* blocks, uint64_t count, const tzc_rans_enc_table* tables, uint32_t* states,
                               uint16_t* words, uint64_t* wordCounts, cudaStream_t s);

}  // namespace tz::cuda

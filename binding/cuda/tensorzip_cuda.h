/* Plain C ABI of libtensorzip_cuda.so. The Node addon dlopens the library only when an NVIDIA
 * driver is present and checks tzc_abi_version() before using anything else, so a stale or
 * foreign library is refused instead of crashing. Bump TZC_ABI_VERSION on any change here. */
#ifndef TENSORZIP_CUDA_H
#define TENSORZIP_CUDA_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TZC_ABI_VERSION 8

enum { TZC_OK = 0, TZC_CANCELLED = 1, TZC_ERROR = -1 };

enum {
  TZC_F32_TO_BF16 = 0,
  TZC_BF16_TO_F32 = 1,
  TZC_F32_TO_F16 = 2,
  TZC_F16_TO_F32 = 3
};

/* How a long call polls for cancellation and reports progress; any member may be null. */
typedef struct tzc_job {
  void* user;
  int (*should_stop)(void* user);
  void (*progress)(void* user, uint64_t done, uint64_t total);
} tzc_job;

typedef struct tzc_device_props {
  char name[256];
  int major, minor;
  uint64_t memory_bytes;
  int multiprocessors;
} tzc_device_props;

int tzc_abi_version(void);
/* Initialises the CUDA runtime; on TZC_ERROR tzc_last_error() says why (e.g. no driver). */
int tzc_init(int* device_count);
int tzc_device_info(int device, tzc_device_props* out);
/* Converts n elements between host buffers on `device`; kind is one of the TZC_*_TO_* values above. */
int tzc_convert(int device, int kind, const void* src, void* dst, uint64_t n, const tzc_job* job);
/* The seedlm exhaustive search (binding/cpu/quant/seedlm.h) for `blocks` blocks of C weights (w,
 * host, row-major, whole blocks). table: the seeds' f32 tables (65535 · 2·C·P floats, as built by
 * seedlm_tables). Writes each block's seed and exponent e; the caller derives the coefficients
 * (seedlm_fields). Progress counts seeds searched. */
int tzc_seedlm_search(int device, unsigned C, unsigned P, const float* table, const float* w, uint64_t blocks, int e_min,
                      uint16_t* seeds, int32_t* exponents, const tzc_job* job);
/* rtn (binding/cpu/quant/rtn.h) on n weights (host): codes packed LSB first (ceil(n·bits/8) bytes) and
 * one f16 scale per group of `group` weights (a multiple of 8). A scale that overflows f16 is
 * written as its Inf bits (0x7C00) and the caller refuses it. tzc_rtn_decode writes n weights and
 * sets *fault to the DecodeFault mask (binding/cpu/quant/decode_fault.h) of its input. Progress counts
 * weights. */
int tzc_rtn_encode(int device, const float* w, uint64_t n, unsigned bits, uint64_t group, uint8_t* packed, uint16_t* scales, const tzc_job* job);
int tzc_rtn_decode(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, unsigned bits, uint64_t group, float* out,
                   unsigned* fault, const tzc_job* job);
/* ternary (binding/cpu/quant/ternary.h) on n f32 weights (host), packing 3 or 2: tensor_scale >= 0 is
 * one scale for every weight (scales unused); otherwise one f16 absmean scale per group, refined
 * `rounds` times, an overflowing one written as its Inf bits as rtn's. tzc_ternary_decode writes n
 * f32 weights and sets *fault as tzc_rtn_decode does. Progress counts weights. */
int tzc_ternary_encode(int device, const float* w, uint64_t n, uint64_t group, unsigned packing, float tensor_scale, unsigned rounds,
                       uint8_t* packed, uint16_t* scales, const tzc_job* job);
int tzc_ternary_decode(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, uint64_t group, unsigned packing,
                       float tensor_scale, float* out, unsigned* fault, const tzc_job* job);
/* k-means (binding/cpu/quant/kmeans.h), on n points of dimension v (1..16, host, row-major) with
 * optional weights w (n values, or null). tzc_kmeans_assign: the label of each point for k
 * centroids. tzc_kmeans_lloyd: kmeans_lloyd's iterations from the centroids passed in (k x v),
 * which it overwrites with the result; objective receives each iteration's objective (room for
 * max_iterations), *iterations how many ran, *repaired the empty clusters re-seeded. Labels and
 * centroids equal the CPU reference's; objectives are summed in another order. Progress counts
 * iterations. */
int tzc_kmeans_assign(int device, const float* x, uint64_t n, unsigned v, const float* centroids, unsigned k, uint32_t* labels, const tzc_job* job);
int tzc_kmeans_lloyd(int device, const float* x, uint64_t n, unsigned v, const float* w, unsigned k, unsigned max_iterations, double tolerance,
                     float* centroids, double* objective, unsigned* iterations, unsigned* repaired, const tzc_job* job);
/* The rotation of :rot (binding/cpu/quant/hadamard.h), in place on n host floats x: rows of
 * `period` values (n a multiple of period, period a multiple of block), each cut into blocks of
 * `block` values (a power of two from 2 to 4096); m holds the row's multipliers (period floats,
 * as hadamard_multipliers gives them). inverse = 0: each block y = H·(m ⊙ x), else x = m ⊙ (H·y).
 * The scalar reference's bits. Progress counts values. */
int tzc_hadamard(int device, float* x, uint64_t n, uint64_t period, uint64_t block, const float* m, unsigned inverse, const tzc_job* job);
/* One block of a rANS frame (binding/cpu/codec/rans.h) for tzc_rans_decode. src: the offset in
 * `src` of the block as the frame stores it (32 u32 states, then its 16-bit words), `bytes` long;
 * symbols: how many it codes; table: the index in `tables` of its context 0's slot table (4096
 * u32, as rans_build_table makes them), contexts 1, 2, 4 or 8 following it; bits: the width of its
 * symbols (1 to 8). dst: the offset in `dst` of its output: the symbols (bits 8), else the codes
 * packed LSB first from a byte boundary, ceil(symbols * bits / 8) bytes, the unused bits zero. */
typedef struct tzc_rans_block {
  uint64_t src;
  uint64_t bytes;
  uint64_t dst;
  uint64_t symbols;
  uint32_t table;
  uint32_t contexts;
  uint32_t bits;
  uint32_t pad;
} tzc_rans_block;

/* Decodes `count` rANS blocks (of any frames) from host buffers, one warp per block, into `dst`:
 * the bytes rans_decode_block_of writes for them on the CPU. faults[i] = 1 where block i does not
 * decode exactly (it needs a word past its end, leaves words unread, or a state does not end at
 * 2^16; its output is then unspecified), else 0. A block that cannot be decoded within the
 * buffers (binding/cuda/rans_blocks.h) fails the call before any is decoded. Blocks whose src
 * and dst offsets increase with i are staged in the fewest copies. Progress counts blocks. */
int tzc_rans_decode(int device, const uint8_t* src, uint64_t src_bytes, const tzc_rans_block* blocks, uint64_t count, const uint32_t* tables,
                    uint64_t table_count, uint8_t* dst, uint64_t dst_bytes, uint8_t* faults, const tzc_job* job);
/* The encoder's table of one context for tzc_rans_encode (RansEncTable of binding/cpu/codec/rans.h,
 * as rans_build_enc_table makes it): per symbol freq | cum << 16, and ceil(2^44 / freq) (0 where
 * freq is 0). */
typedef struct tzc_rans_enc_table {
  uint32_t freq_cum[256];
  uint64_t inverse[256];
} tzc_rans_enc_table;

/* One block for tzc_rans_encode: `symbols` symbols (at most 2^32 - 1) at offset symbols_at in
 * `symbols`, symbol i coded with tables[table + i mod contexts] (contexts 1, 2, 4 or 8). Its words
 * go to words[symbols_at, symbols_at + symbols), which no other block's may overlap. */
typedef struct tzc_rans_enc_block {
  uint64_t symbols_at;
  uint64_t symbols;
  uint32_t table;
  uint32_t contexts;
} tzc_rans_enc_block;

/* Encodes `count` rANS blocks (of any frames) from host buffers, one warp per block, as the
 * scalar reference's rans_encode_block does: states[32 i ..] receives block i's 32 final states,
 * word_counts[i] how many 16-bit words it emits, and those words end its region of `words`
 * (symbol_bytes words in all), in the order the decoder reads them; the rest of the region is
 * left unspecified. A symbol of frequency 0 in its context gives unspecified states and words. A
 * block that does not lie within the buffers, or whose region overlaps another's
 * (binding/cuda/rans_blocks.h), fails the call before any is encoded. Blocks whose offsets
 * increase with i are staged in the fewest copies. Progress counts blocks. */
int tzc_rans_encode(int device, const uint8_t* symbols, uint64_t symbol_bytes, const tzc_rans_enc_block* blocks, uint64_t count,
                    const tzc_rans_enc_table* tables, uint64_t table_count, uint32_t* states, uint16_t* words, uint64_t* word_counts,
                    const tzc_job* job);
/* Device-to-device copy bandwidth in bytes read + written per second: the median of `repeats`
 * cudaMemcpy copies of `bytes` (the roofline of memory-bound kernels, for the benchmarks). */
int tzc_copy_bandwidth(int device, uint64_t bytes, unsigned repeats, double* bytes_per_second);
/* Message of the last failed call on the calling thread. */
const char* tzc_last_error(void);

#ifdef __cplusplus
}
#endif
#endif

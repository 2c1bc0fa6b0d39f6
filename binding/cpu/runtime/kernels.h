// The CPU kernel table: one function pointer per kernel (a row), filled once at load with either
// the scalar reference or the AVX2 variant. Every kernel has a scalar reference in tz::scalar that
// the SIMD (and CUDA) versions are tested against. Adding a row: the member below, its name in
// TZ_KERNEL_ROWS (the static_assert after the struct fails until it is there), its declaration
// in TZ_KERNEL_DECLARATIONS, and a case in test/kernel-table.test.ts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "float_bits.h"

namespace tz {

struct SeedlmTables;
struct KmeansCentroids;
struct GemmArgs;
struct RansTable;
struct RansEncTable;
struct ErrorSums;
struct WeightStats;

struct KernelTable {
  const char* name;  // "avx2" or "scalar"
  void (*f32_to_bf16)(const float* src, uint16_t* dst, size_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, size_t n);
  void (*f32_to_f16)(const float* src, uint16_t* dst, size_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, size_t n);
  // rtn.h: n weights in groups of `group` (a multiple of 8) -> packed codes + f16 scales.
  void (*rtn_encode)(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales);
  // Decoders return a DecodeFault mask (decode_fault.h), 0 for valid input.
  unsigned (*rtn_decode)(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out);
  // ternary.h: tensorScale >= 0 selects one given scale (then `group` and `scales` are unused);
  // otherwise one f16 absmean scale per group of `group` weights, refined `rounds` times (:opt).
  // packing: 3 (base-3) or 2 (2-bit). Weights are read, and decoded values written, as `type`.
  void (*ternary_encode)(const void* w, FloatType type, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales);
  unsigned (*ternary_decode)(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, void* out, FloatType type);
  // seedlm.h: seed search for `blocks` blocks of t.C weights (w, row-major) -> seeds[b] and
  // fields[b·(P+1) ...] = e4, q_0..q_{P-1} (int8), for exponent base eMin. keep = 0: exhaustive;
  // keep = K: the approximate mode (the K best seeds by least-squares error, then exact).
  void (*seedlm_search)(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields);
  // kmeans.h: the label of each of n points (dimension c.v, row-major) for centroids c.
  void (*kmeans_assign)(const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels);
  // gemm.h: y = x·Wᵀ (+ bias) for W's panels [panelBegin, panelEnd).
  void (*gemm_panels)(const GemmArgs& a, size_t panelBegin, size_t panelEnd);
  // rans.h: one block of n symbols (its states, then its words) -> dst, symbol i with
  // tables[i mod contexts]; 0 when it decoded exactly, 1 for a corrupted block.
  unsigned (*rans_decode_block)(const RansTable* tables, unsigned contexts, const uint8_t* block, size_t bytes, uint8_t* dst, size_t n);
  // rans.h: one block of n symbols, symbol i with tables[i mod contexts] -> the 32 final states
  // and the words, written downwards from wordsEnd (room for n + 8 below it); returns the words.
  size_t (*rans_encode_block)(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, uint32_t* states, uint16_t* wordsEnd);
  // error_stats.h: the sums of one window of n elements of `type` (original a, reconstruction b),
  // and the statistics of one window of weights, in the order error_stats.h defines.
  void (*error_window)(const void* a, const void* b, FloatType type, size_t n, ErrorSums* out);
  void (*stats_window)(const void* w, FloatType type, size_t n, WeightStats* out);
  // hadamard.h: n values (whole blocks) rotated in place, block by block, with multipliers m
  // (one per value); inverse = 0: x <- H·(m ⊙ x), else x <- m ⊙ (H·x).
  void (*hadamard_blocks)(float* x, size_t n, size_t block, const float* m, unsigned inverse);
  // codec/byte_planes_scalar.cc: n elements of `width` bytes (1, 2, 4 or 8) to and from `width` planes.
  void (*split_planes)(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* const* planes);
  void (*merge_planes)(const uint8_t* const* planes, size_t n, unsigned width, bool rotate, uint8_t* dst);
};

// Every row of KernelTable, by name, in member order: dispatch.cc fills the tables by these names
// and test/kernel-table.test.ts walks them (binding/kernel_row.cc runs one by name).
#define TZ_KERNEL_ROWS(X) \
  X(f32_to_bf16)          \
  X(bf16_to_f32)          \
  X(f32_to_f16)           \
  X(f16_to_f32)           \
  X(rtn_encode)           \
  X(rtn_decode)           \
  X(ternary_encode)       \
  X(ternary_decode)       \
  X(seedlm_search)        \
  X(kmeans_assign)        \
  X(gemm_panels)           \
  X(rans_decode_block)     \
  X(rans_encode_block)     \
  X(error_window)          \
  X(stats_window)          \
  X(hadamard_blocks)       \
  X(split_planes)          \
  X(merge_planes)

#define TZ_COUNT_ROW(row) +1
// The list names every member: a row added to the struct but not to the list fails here.
static_assert(sizeof(KernelTable) == sizeof(const char*) + (0 TZ_KERNEL_ROWS(TZ_COUNT_ROW)) * sizeof(void (*)()),
              "TZ_KERNEL_ROWS must list every KernelTable row");
#undef TZ_COUNT_ROW

// The rows' names, in member order.
#define TZ_ROW_NAME(row) #row,
inline constexpr const char* kKernelRowNames[] = {TZ_KERNEL_ROWS(TZ_ROW_NAME)};
#undef TZ_ROW_NAME

// Every variant (scalar reference, AVX2) defines the same set of functions in its namespace.
#define TZ_KERNEL_DECLARATIONS                                                                    \
  void f32_to_bf16(const float* src, uint16_t* dst, size_t n);                                    \
  void bf16_to_f32(const uint16_t* src, float* dst, size_t n);                                    \
  void f32_to_f16(const float* src, uint16_t* dst, size_t n);                                     \
  void f16_to_f32(const uint16_t* src, float* dst, size_t n);                                     \
  void rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales); \
  unsigned rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out); \
  void ternary_encode(const void* w, FloatType type, size_t n, size_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed, uint16_t* scales); \
  unsigned ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group, unsigned packing, float tensorScale, void* out, FloatType type); \
  void seedlm_search(const SeedlmTables& t, const float* w, size_t blocks, int eMin, unsigned keep, uint16_t* seeds, uint8_t* fields); \
  void kmeans_assign(const KmeansCentroids& c, const float* x, size_t n, uint32_t* labels); \
  void gemm_panels(const GemmArgs& a, size_t panelBegin, size_t panelEnd);                        \
  unsigned rans_decode_block(const RansTable* tables, unsigned contexts, const uint8_t* block, size_t bytes, uint8_t* dst, size_t n); \
  size_t rans_encode_block(const RansEncTable* tables, unsigned contexts, const uint8_t* symbols, size_t n, uint32_t* states, uint16_t* wordsEnd); \
  void error_window(const void* a, const void* b, FloatType type, size_t n, ErrorSums* out);  \
  void stats_window(const void* w, FloatType type, size_t n, WeightStats* out);                 \
  void hadamard_blocks(float* x, size_t n, size_t block, const float* m, unsigned inverse);      \
  void split_planes(const uint8_t* src, size_t n, unsigned width, bool rotate, uint8_t* const* planes); \
  void merge_planes(const uint8_t* const* planes, size_t n, unsigned width, bool rotate, uint8_t* dst);

namespace scalar {
TZ_KERNEL_DECLARATIONS
}  // namespace scalar

namespace avx2 {
TZ_KERNEL_DECLARATIONS
}  // namespace avx2

#undef TZ_KERNEL_DECLARATIONS

const KernelTable& scalar_kernels();
// nullptr when this CPU (or OS) cannot run the AVX2/FMA/F16C code.
const KernelTable* avx2_kernels();

// The table in use, chosen once: AVX2 when available unless TENSORZIP_CPU=scalar.
const KernelTable& kernels();
// Why the table in use was chosen (for backendInfo and error messages).
const std::string& kernels_reason();

}  // namespace tz

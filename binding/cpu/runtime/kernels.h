// The CPU kernel table: one function pointer per kernel, filled once at load with either the
// scalar reference or the AVX2 variant. Every kernel has a scalar reference in tz::scalar that
// the SIMD (and CUDA) versions are tested against.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "float_bits.h"

namespace tz {

struct SeedlmTables;
struct KmeansCentroids;
struct GemmArgs;

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
};

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
  void gemm_panels(const GemmArgs& a, size_t panelBegin, size_t panelEnd);

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

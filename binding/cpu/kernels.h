// The CPU kernel table: one function pointer per kernel, filled once at load with either the
// scalar reference or the AVX2 variant. Every kernel has a scalar reference in tz::scalar that
// the SIMD (and CUDA) versions are tested against.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tz {

struct KernelTable {
  const char* name;  // "avx2" or "scalar"
  void (*f32_to_bf16)(const float* src, uint16_t* dst, size_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, size_t n);
  void (*f32_to_f16)(const float* src, uint16_t* dst, size_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, size_t n);
};

namespace scalar {
void f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void f32_to_f16(const float* src, uint16_t* dst, size_t n);
void f16_to_f32(const uint16_t* src, float* dst, size_t n);
}  // namespace scalar

namespace avx2 {
void f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void f32_to_f16(const float* src, uint16_t* dst, size_t n);
void f16_to_f32(const uint16_t* src, float* dst, size_t n);
}  // namespace avx2

const KernelTable& scalar_kernels();
// nullptr when this CPU (or OS) cannot run the AVX2/FMA/F16C code.
const KernelTable* avx2_kernels();

// The table in use, chosen once: AVX2 when available unless TENSORZIP_CPU=scalar.
const KernelTable& kernels();
// Why the table in use was chosen (for backendInfo and error messages).
const std::string& kernels_reason();

}  // namespace tz

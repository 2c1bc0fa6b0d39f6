// y = x · Wᵀ (+ bias), the matrix product of the forward pass: x is [rows, k] row-major with row
// stride lda; W is [cols, k] (a linear layer's [out, in] weight) stored as packed panels.
//
// Panels: W's rows (the outputs) in groups of kPanel = 16, each group laid out k-major
// (panel p holds W[16p + j][kk] at p·panelStride + kk·16 + j), zero-padded past the last output.
// The AVX2 kernel then reads two vectors per k step for 16 outputs; packing once per weight costs
// far less than the 2·rows·k·cols flops it serves.
#pragma once
#include <cstddef>
#include <memory>

#include "../runtime/job_context.h"

namespace tz {

struct KernelTable;

constexpr size_t kPanel = 16;

struct GemmArgs {
  const float* x;       // [rows, k], row stride lda
  size_t rows, lda;
  const float* w;       // packed panels
  size_t k;             // reduction length used (<= the packed k)
  size_t panelStride;   // floats from one panel to the next (16 · packed k)
  size_t cols;          // outputs (W's rows)
  const float* bias;    // cols values, or nullptr
  float* y;             // [rows, cols], row stride ldy
  size_t ldy;
  bool accumulate;      // y += x·Wᵀ (+ bias) instead of y = ...
};

inline size_t panelCount(size_t cols) { return (cols + kPanel - 1) / kPanel; }

// Packs W given element (o, kk) at src[o·outStride + kk·kStride] (so a transposed or strided
// source packs without a copy) into panelCount(outputs)·16·k floats at dst.
void pack_panels(const float* src, size_t outputs, size_t k, size_t outStride, size_t kStride, float* dst);

// Storage for packed weights (up to ~1 GB for an output head): 2 MB aligned and, on Linux,
// advised to use transparent huge pages, which cuts the page faults of first touch ~500-fold.
struct FreeDeleter {
  void operator()(float* p) const;
};
using LargeBuffer = std::unique_ptr<float[], FreeDeleter>;
LargeBuffer allocate_large(size_t floats);

struct PackedMatrix {
  size_t cols = 0, k = 0;
  LargeBuffer data;  // uninitialised until packed: pack_panels writes every element
  void pack(const float* w, size_t cols, size_t k, unsigned threads, JobContext& ctx);  // W row-major [cols, k]
  GemmArgs args(const float* x, size_t rows, size_t lda, const float* bias, float* y, size_t ldy, bool accumulate) const {
    return {x, rows, lda, data.get(), k, k * kPanel, cols, bias, y, ldy, accumulate};
  }
};

// The whole product on up to `threads` threads, split by panels (each output is computed by one
// thread in a fixed order, so the result does not depend on the thread count). No progress.
void gemm(const KernelTable& kt, const GemmArgs& a, unsigned threads, JobContext& ctx);

}  // namespace tz

// vptq's vector layout and reconstruction (docs/METHODS.md, "vptq"; docs/FORMAT.md §4), shared by
// the encoder and the decoder.
//
// A chunk holds `rows` whole rows of a [out, cols] weight matrix (rows a multiple of v, except in
// the tensor's last chunk). Vector i = rb·cols + j is rows rb·v .. rb·v+v-1 of column j; rows past
// the chunk's end are padding, gathered as 0 and never written back. With per-column
// normalisation (scale s_j, bias b_j, both f16 values) a vector holds (w - b_j) / s_j and decodes
// as fma(s_j, ĉ, b_j); without it, w and ĉ. ĉ = c1[l1] (+ c2[l2] with a residual codebook), in f32.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kmeans.h"

namespace tz {

struct KernelTable;
class JobContext;

struct VptqLayout {
  size_t rows = 0, cols = 0;
  unsigned v = 0;
  const float* scale = nullptr;  // cols values, or null (no normalisation; bias null too)
  const float* bias = nullptr;

  size_t vectors() const { return (rows + v - 1) / v * cols; }
};

// Vectors [first, first + count) of the chunk's weights w (rows x cols), normalised, into x.
void vptq_gather(const VptqLayout& l, const float* w, size_t first, size_t count, float* x);

// Labels of every vector against c1 (then of its residual against c2, if given) and the chunk's
// reconstruction. l2 is null exactly when c2 is.
void vptq_encode(const KernelTable& kt, const VptqLayout& l, const float* w, const KmeansCentroids& c1, const KmeansCentroids* c2, uint32_t* l1,
                 uint32_t* l2, float* recon, unsigned threads, JobContext& ctx);

// The chunk (rows x cols) from its labels; labels must be below the codebooks' sizes (checked by
// the caller). c2 and l2 are null together.
void vptq_decode(const VptqLayout& l, const float* c1, const float* c2, const uint32_t* l1, const uint32_t* l2, float* out, unsigned threads,
                 JobContext& ctx);

}  // namespace tz

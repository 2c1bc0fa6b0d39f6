// vptq.h: gather, encode (fused assignment per block of vectors) and decode, parallel over fixed
// blocks of vectors so the output does not depend on the thread count.
#include "vptq.h"

#include <cmath>
#include <vector>

#include "../runtime/job_context.h"
#include "../runtime/kernels.h"
#include "../runtime/parallel.h"

namespace tz {

namespace {

constexpr size_t kVectorBlock = 4096;

// Writes the reconstruction of vectors [first, first + count) (ĉ values, count x v) into out.
void scatter(const VptqLayout& l, const float* chat, size_t first, size_t count, float* out) {
  for (size_t n = 0; n < count; ++n) {
    const size_t i = first + n, rb = i / l.cols, j = i % l.cols;
    for (unsigned t = 0; t < l.v; ++t) {
      const size_t row = rb * l.v + t;
      if (row >= l.rows) break;
      const float c = chat[n * l.v + t];
      out[row * l.cols + j] = l.scale ? std::fma(l.scale[j], c, l.bias[j]) : c;
    }
  }
}

}  // namespace

void vptq_gather(const VptqLayout& l, const float* w, size_t first, size_t count, float* x) {
  for (size_t n = 0; n < count; ++n) {
    const size_t i = first + n, rb = i / l.cols, j = i % l.cols;
    for (unsigned t = 0; t < l.v; ++t) {
      const size_t row = rb * l.v + t;
      float value = 0.0f;
      if (row < l.rows) value = l.scale ? (w[row * l.cols + j] - l.bias[j]) / l.scale[j] : w[row * l.cols + j];
      x[n * l.v + t] = value;
    }
  }
}

void vptq_encode(const KernelTable& kt, const VptqLayout& l, const float* w, const KmeansCentroids& c1, const KmeansCentroids* c2, uint32_t* l1,
                 uint32_t* l2, float* recon, unsigned threads, JobContext& ctx) {
  const unsigned v = l.v;
  parallel_for(l.vectors(), kVectorBlock, threads, ctx, [&](size_t b, size_t e) {
    std::vector<float> x((e - b) * v);
    vptq_gather(l, w, b, e - b, x.data());
    kt.kmeans_assign(c1, x.data(), e - b, l1 + b);
    if (c2) {  // the residual's label
      for (size_t n = 0; n < e - b; ++n)
        for (unsigned t = 0; t < v; ++t) x[n * v + t] -= c1.c[size_t(l1[b + n]) * v + t];
      kt.kmeans_assign(*c2, x.data(), e - b, l2 + b);
    }
    for (size_t n = 0; n < e - b; ++n)  // x becomes ĉ
      for (unsigned t = 0; t < v; ++t) {
        const float c = c1.c[size_t(l1[b + n]) * v + t];
        x[n * v + t] = c2 ? c + c2->c[size_t(l2[b + n]) * v + t] : c;
      }
    scatter(l, x.data(), b, e - b, recon);
  });
}

void vptq_decode(const VptqLayout& l, const float* c1, const float* c2, const uint32_t* l1, const uint32_t* l2, float* out, unsigned threads,
                 JobContext& ctx) {
  const unsigned v = l.v;
  parallel_for(l.vectors(), kVectorBlock, threads, ctx, [&](size_t b, size_t e) {
    std::vector<float> chat((e - b) * v);
    for (size_t n = 0; n < e - b; ++n)
      for (unsigned t = 0; t < v; ++t) {
        const float c = c1[size_t(l1[b + n]) * v + t];
        chat[n * v + t] = c2 ? c + c2[size_t(l2[b + n]) * v + t] : c;
      }
    scatter(l, chat.data(), b, e - b, out);
  });
}

}  // namespace tz

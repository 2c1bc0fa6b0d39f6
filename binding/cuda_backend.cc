#include "cuda_backend.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/quant/seedlm_tables.h"
#include "cpu/quant/vptq.h"
#include "cuda_call.h"

namespace tz::cuda_backend {

void convert(int gpu, const ConvertCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().convert(gpu, c.kind, c.src, c.dst, c.n, &job), "conversion");
}

// The exhaustive search gives each block's seed and exponent; each block's fields then follow
// from them on the host, as the CPU search derives them.
void seedlm_search(int gpu, const SeedlmCall& c, unsigned, JobContext& ctx) {
  const unsigned C = c.t->C, P = c.t->P;
  // The last block zero-padded, as the CPU search pads it.
  std::vector<float> padded;
  const float* w = c.w;
  if (c.weights % C) {
    padded.assign(c.blocks * C, 0.0f);
    std::memcpy(padded.data(), c.w, c.weights * sizeof(float));
    w = padded.data();
  }
  std::vector<int32_t> exponents(c.blocks);
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().seedlmSearch(gpu, C, P, c.t->perSeed.data(), w, c.blocks, c.eMin, c.seeds, exponents.data(), &job), "the seedlm search");
  for (size_t b = 0; b < c.blocks; ++b) seedlm_fields(*c.t, w + b * C, c.seeds[b], exponents[b], c.eMin, c.fields + b * (P + 1));
}

void kmeans_assign(int gpu, const KmeansAssignCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansAssign(gpu, c.x, c.n, c.c->v, c.c->c.data(), c.c->k, c.labels, &job), "k-means assignment");
}

void kmeans_lloyd(int gpu, const KmeansLloydCall& c, unsigned, JobContext& ctx) {
  std::vector<double> objective(c.maxIterations);
  unsigned iterations = 0, repaired = 0;
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansLloyd(gpu, c.x, c.n, c.v, c.w, c.k, c.maxIterations, c.tolerance, c.r->centroids.data(), objective.data(), &iterations,
                               &repaired, &job),
            "k-means");
  c.r->objective.assign(objective.begin(), objective.begin() + std::min<size_t>(iterations, objective.size()));
  c.r->repaired = repaired;
}

// Every vector's label (and its residual's) in one assignment each, then the reconstruction as
// the decoder makes it, which is what the CPU's vptq_encode computes.
void vptq_encode(int gpu, const VptqCall& c, unsigned threads, JobContext& ctx) {
  const VptqLayout& l = c.l;
  const size_t n = l.vectors();
  std::vector<float> x(n * l.v);
  vptq_gather(l, c.w, 0, n, x.data());
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c1, c.k1, c.l1, &job), "the vptq assignment");
  if (c.c2) {
    for (size_t i = 0; i < n; ++i)
      for (unsigned t = 0; t < l.v; ++t) x[i * l.v + t] -= c.c1[size_t(c.l1[i]) * l.v + t];
    CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c2, c.k2, c.l2, &job), "the vptq residual assignment");
  }
  vptq_decode(l, c.c1, c.c2, c.l1, c.l2, c.recon, threads, ctx);
}

}  // namespace tz::cuda_backend

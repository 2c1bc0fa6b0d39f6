// One decoder layer of a Llama-family model (Llama 2/3, Mistral, Qwen2) applied in place to the
// hidden states of several independent sequences:
//   h += o_proj(attention(rope(q), rope(k), v)) with q/k/v = proj(rmsnorm(h)) (+ bias, Qwen2)
//   h += down_proj(silu(gate_proj(x)) · up_proj(x)),  x = rmsnorm(h)
// Grouped-query attention, causal (optionally sliding-window) masking, f32 throughout.
#pragma once
#include <cstddef>

#include "gemm.h"
#include "../runtime/job_context.h"

namespace tz {

struct KernelTable;

struct LlamaLayerShape {
  size_t hidden, heads, kvHeads, headDim, intermediate;
  size_t window;  // sliding-window length, 0 = none
  float eps;      // RMSNorm epsilon
};

struct LlamaLayerWeights {
  const float* attnNorm;                  // [hidden]
  const float* mlpNorm;                   // [hidden]
  const float *qBias, *kBias, *vBias;     // [heads·headDim], [kvHeads·headDim] ×2, or nullptr
  PackedMatrix q, k, v, o, gate, up, down;
};

// Per-column sums of squared inputs of the layer's linears (nullptr: not collected).
struct LlamaLayerStats {
  double* attnIn = nullptr;  // [hidden]: input of q, k, v
  double* oIn = nullptr;     // [heads·headDim]: input of o_proj
  double* mlpIn = nullptr;   // [hidden]: input of gate, up
  double* downIn = nullptr;  // [intermediate]: input of down_proj
};

// h: `seqs` sequences of `positions` rows of `hidden`. invFreq: headDim/2 RoPE frequencies.
// Reports progress in sequences.
void llama_layer(const KernelTable& kt, const LlamaLayerShape& s, const LlamaLayerWeights& w, const float* invFreq,
                 float* h, size_t seqs, size_t positions, const LlamaLayerStats& stats, unsigned threads, JobContext& ctx);

}  // namespace tz

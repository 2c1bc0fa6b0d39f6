// The output head and what evaluation measures from it: for chosen rows of final hidden states,
// logits = rmsnorm(h)·lm_headᵀ, then per row the negative log-likelihood of a target token and
// the arg-max; with a second model on the same rows, also KL(P_ref ‖ P_other) over the vocabulary.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gemm.h"
#include "../runtime/job_context.h"

namespace tz {

struct KernelTable;

struct LlamaHead {
  const float* hidden;  // final hidden states [n, dim] (before the final norm)
  const float* norm;    // [dim]
  PackedMatrix lm;      // [vocab, dim]
};

struct LlamaScores {
  double* nll[2];      // per row: −log p(target), for the reference and the other model
  uint32_t* top[2];    // per row: the arg-max token
  double* kl;          // per row: KL(P_ref ‖ P_other), or nullptr
};

// rows[i] indexes the hidden states; targets[i] < vocab. `other` may be nullptr (then only index
// 0 of the outputs is written). Reports progress in rows.
void llama_score(const KernelTable& kt, size_t dim, float eps, const LlamaHead& ref, const LlamaHead* other,
                 const uint32_t* rows, const uint32_t* targets, size_t count, const LlamaScores& out, unsigned threads,
                 JobContext& ctx);

}  // namespace tz

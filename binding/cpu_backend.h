// The CPU implementations of the backend table's capabilities (backend_table.h): each runs its
// call over the given KernelTable on up to `threads` threads in fixed chunks, so the result does
// not depend on the thread count, and throws what the kernels refuse (decoders: the fault's
// message, capabilities.h).
#pragma once
#include <atomic>
#include <vector>

#include "capabilities.h"
#include "cpu/codec/rans.h"
#include "cpu/quant/error_stats.h"
#include "cpu/runtime/job_context.h"
#include "cpu/runtime/kernels.h"

namespace tz::cpu_backend {

void convert(const KernelTable& k, const ConvertCall& c, unsigned threads, JobContext& ctx);
void rtn_encode(const KernelTable& k, const RtnCall& c, unsigned threads, JobContext& ctx);
void rtn_decode(const KernelTable& k, const RtnCall& c, unsigned threads, JobContext& ctx);
void ternary_encode(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx);
void ternary_decode(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx);
void seedlm_search(const KernelTable& k, const SeedlmCall& c, unsigned threads, JobContext& ctx);
void seedlm_decode(const KernelTable& k, const SeedlmCall& c, unsigned threads, JobContext& ctx);
void kmeans_assign(const KernelTable& k, const KmeansAssignCall& c, unsigned threads, JobContext& ctx);
void kmeans_lloyd(const KernelTable& k, const KmeansLloydCall& c, unsigned threads, JobContext& ctx);
void vptq_encode(const KernelTable& k, const VptqCall& c, unsigned threads, JobContext& ctx);
void vptq_decode(const KernelTable& k, const VptqCall& c, unsigned threads, JobContext& ctx);
void hadamard(const KernelTable& k, const HadamardCall& c, unsigned threads, JobContext& ctx);
void decode_pieces(const KernelTable& k, const PiecesCall& c, unsigned threads, JobContext& ctx);
void encode_pieces(const KernelTable& k, const EncodePiecesCall& c, unsigned threads, JobContext& ctx);

// encode_pieces' first step on every device: each rANS piece of c planned (rans_plan) on the
// job's threads; a piece that ends there (raw, constant) gets its result, and its bytes are added
// to `done` (progress, of `total`).
std::vector<RansPlan> plan_rans_pieces(const EncodePiecesCall& c, unsigned threads, JobContext& ctx, std::atomic<uint64_t>& done, uint64_t total);

// Steps inside a larger job (they report no progress of their own): n values of a 16-bit type
// to f32 and back (round to nearest even).
void widen(const KernelTable& k, FloatType type, const void* src, float* dst, size_t n, unsigned threads, JobContext& ctx);
void narrow(const KernelTable& k, FloatType type, const float* src, void* dst, size_t n, unsigned threads, JobContext& ctx);
// The error of an encoding (c's codes and scales) against the original weights, which are
// `original` as `type`: decoded on the CPU, rounded to `type`, then error_sums (error_stats.h).
ErrorSums rtn_measure(const KernelTable& k, const RtnCall& c, const void* original, FloatType type, unsigned threads, JobContext& ctx);
// The same for ternary: c.w holds the original weights.
ErrorSums ternary_measure(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx);

}  // namespace tz::cpu_backend

// The CUDA implementations of the backend table's capabilities (backend_table.h), over
// libtensorzip_cuda (cuda_loader.h) on GPU `gpu`; `threads` CPU threads for the host's share. Each gives what the CPU implementation gives,
// byte for byte (the kernels follow the CPU references operation for operation); what the GPU
// leaves to the host (seedlm's fields, vptq's residuals and reconstruction, ternary's 16-bit
// weights widened and narrowed, the refusal of an overflowing scale, rANS frames read and their
// trailing bits checked, rANS frames planned and assembled around the coded blocks, xz pieces)
// is computed here as the CPU implementation computes it.
#pragma once
#include "capabilities.h"
#include "cpu/runtime/job_context.h"

namespace tz::cuda_backend {

void convert(int gpu, const ConvertCall& c, unsigned threads, JobContext& ctx);
void rtn_encode(int gpu, const RtnCall& c, unsigned threads, JobContext& ctx);
void rtn_decode(int gpu, const RtnCall& c, unsigned threads, JobContext& ctx);
void ternary_encode(int gpu, const TernaryCall& c, unsigned threads, JobContext& ctx);
void ternary_decode(int gpu, const TernaryCall& c, unsigned threads, JobContext& ctx);
void seedlm_search(int gpu, const SeedlmCall& c, unsigned threads, JobContext& ctx);
void kmeans_assign(int gpu, const KmeansAssignCall& c, unsigned threads, JobContext& ctx);
void kmeans_lloyd(int gpu, const KmeansLloydCall& c, unsigned threads, JobContext& ctx);
void vptq_encode(int gpu, const VptqCall& c, unsigned threads, JobContext& ctx);
void hadamard(int gpu, const HadamardCall& c, unsigned threads, JobContext& ctx);
void decode_pieces(int gpu, const PiecesCall& c, unsigned threads, JobContext& ctx);
void encode_pieces(int gpu, const EncodePiecesCall& c, unsigned threads, JobContext& ctx);

}  // namespace tz::cuda_backend

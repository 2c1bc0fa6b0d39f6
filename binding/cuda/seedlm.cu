// CUDA seedlm search. The seeds' tables stream through shared memory in tiles that all threads
// of a CUDA block walk in the same order; each thread keeps its block's weights in registers.
// Built with --fmad=false, so the separate multiplies and adds of seedlm_trial stay separate.
#include "../cpu/quant/seedlm.h"
#include "seedlm_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr int kThreads = 128;
constexpr size_t kTileBytes = 48 * 1024;  // the default shared-memory limit per CUDA block

__global__ void reset(float* error, uint16_t* seed, int32_t* exponent, size_t blocks) {
  const size_t b = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= blocks) return;
  error[b] = INFINITY;
  seed[b] = 0;  // stays 0 when no seed gives a finite error: the host reports it
  exponent[b] = 0;
}

template <unsigned C, unsigned P>
__global__ void search(const float* __restrict__ table, const float* __restrict__ w, size_t blocks, int eMin, unsigned s0, unsigned s1,
                       float* __restrict__ error, uint16_t* __restrict__ seed, int32_t* __restrict__ exponent) {
  extern __shared__ float tile[];
  constexpr unsigned stride = 2 * C * P;
  constexpr unsigned tileSeeds = kTileBytes / (stride * sizeof(float));
  const size_t b = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool active = b < blocks;
  float wb[C];
  for (unsigned c = 0; c < C; ++c) wb[c] = active ? w[b * C + c] : 0.0f;
  float best = active ? error[b] : 0.0f;
  unsigned bestSeed = active ? seed[b] : 0;
  int bestE = active ? exponent[b] : 0;
  for (unsigned t0 = s0; t0 < s1; t0 += tileSeeds) {
    const unsigned n = min(tileSeeds, s1 - t0);
    __syncthreads();
    for (unsigned i = threadIdx.x; i < n * stride; i += blockDim.x) tile[i] = table[size_t(t0 - 1) * stride + i];
    __syncthreads();
    for (unsigned k = 0; k < n; ++k) {
      int e;
      const float err = seedlm_trial<C, P>(tile + k * stride, tile + k * stride + P * C, wb, eMin, &e);
      if (err < best) {
        best = err;
        bestSeed = t0 + k;
        bestE = e;
      }
    }
  }
  if (active) {
    error[b] = best;
    seed[b] = uint16_t(bestSeed);
    exponent[b] = bestE;
  }
}

unsigned gridFor(size_t blocks) { return unsigned((blocks + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_seedlm_reset(float* dError, uint16_t* dSeed, int32_t* dExp, size_t blocks, cudaStream_t stream) {
  if (!blocks) return cudaSuccess;
  reset<<<gridFor(blocks), kThreads, 0, stream>>>(dError, dSeed, dExp, blocks);
  return cudaGetLastError();
}

cudaError_t launch_seedlm_search(unsigned C, unsigned P, const float* dTable, const float* dW, size_t blocks, int eMin, unsigned s0,
                                 unsigned s1, float* dError, uint16_t* dSeed, int32_t* dExp, cudaStream_t stream) {
  if (!blocks || s0 >= s1) return cudaSuccess;
  if (C == 8 && P == 3)
    search<8, 3><<<gridFor(blocks), kThreads, kTileBytes, stream>>>(dTable, dW, blocks, eMin, s0, s1, dError, dSeed, dExp);
  else if (C == 12 && P == 4)
    search<12, 4><<<gridFor(blocks), kThreads, kTileBytes, stream>>>(dTable, dW, blocks, eMin, s0, s1, dError, dSeed, dExp);
  else
    return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace tz::cuda

// CUDA kernel of the :rot rotation, following the scalar reference (../cpu/quant/hadamard_scalar.cc)
// operation for operation: forward, each value times its multiplier, then the butterfly stages
// h = 1, 2, 4, … ((a, b) -> (a + b, a − b)); inverse, the stages then the multipliers. Every add,
// subtract and multiply is one IEEE f32 operation rounded to nearest (__fadd_rn, __fsub_rn,
// __fmul_rn: never contracted, denormals kept), and within a stage the pairs are independent, so
// the order the threads take them in changes nothing: the result is the CPU's bit for bit (NaN
// payloads aside, which IEEE leaves open).
#include "../cpu/quant/hadamard.h"
#include "hadamard_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr unsigned kThreads = 256;
// Values per thread block: whole rotation blocks, at least kTile (small blocks are batched so that
// every thread has pairs to work on), at most kMaxHadamardBlock (one block of the largest size).
constexpr size_t kTile = 2048;
static_assert(kTile <= kMaxHadamardBlock, "a tile must fit the shared buffer");

// One thread block per tile of `tile` values (whole rotation blocks), held in shared memory for
// every stage. Pair p of a stage of half-width h is (j, j + h) with j = (p / h)·2h + p % h (h a
// power of two: bit operations): the pairs of hadamard_stage, which never cross a rotation block
// since block is a multiple of 2h.
__global__ void rotate_tiles(float* __restrict__ x, size_t n, size_t period, unsigned block, size_t tile, const float* __restrict__ m, size_t first,
                             unsigned inverse) {
  __shared__ float v[kMaxHadamardBlock];
  const size_t start = size_t(blockIdx.x) * tile;
  const unsigned len = unsigned(n - start < tile ? n - start : tile);  // whole blocks
  float* xs = x + start;
  // The column of value start + j: one division per thread block unless the tile wraps a row.
  const size_t col0 = (first + start) % period;
  const bool wraps = col0 + len > period;
  for (unsigned j = threadIdx.x; j < len; j += blockDim.x) {
    const float value = xs[j];
    v[j] = inverse ? value : __fmul_rn(value, m[wraps ? (first + start + j) % period : col0 + j]);
  }
  __syncthreads();
  for (unsigned h = 1; h < block; h *= 2) {
    for (unsigned p = threadIdx.x; p < len / 2; p += blockDim.x) {
      const unsigned j = ((p & ~(h - 1)) << 1) | (p & (h - 1));
      const float a = v[j], b = v[j + h];
      v[j] = __fadd_rn(a, b);
      v[j + h] = __fsub_rn(a, b);
    }
    __syncthreads();
  }
  for (unsigned j = threadIdx.x; j < len; j += blockDim.x)
    xs[j] = inverse ? __fmul_rn(v[j], m[wraps ? (first + start + j) % period : col0 + j]) : v[j];
}

}  // namespace

cudaError_t launch_hadamard(float* x, size_t n, size_t period, size_t block, const float* m, size_t first, unsigned inverse, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (!is_hadamard_block(block) || period == 0 || period % block || n % block) return cudaErrorInvalidValue;
  const size_t tile = block < kTile ? kTile : block;
  const size_t tiles = (n + tile - 1) / tile;
  if (tiles > 0x7FFFFFFFu) return cudaErrorInvalidValue;
  rotate_tiles<<<unsigned(tiles), kThreads, 0, s>>>(x, n, period, unsigned(block), tile, m, first % period, inverse);
  return cudaGetLastError();
}

}  // namespace tz::cuda

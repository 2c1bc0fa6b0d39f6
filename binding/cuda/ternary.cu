// CUDA ternary kernels. Per-group γ uses the summation order of ternary.h (sixteen lanes, each a
// sequential sum over every 16th element, combined in a fixed tree), so scales, codes and decoded
// values are bit-identical to the CPU reference; decoding flags what the CPU decoders flag.
#include "../cpu/quant/decode_fault.h"
#include "../cpu/quant/ternary.h"
#include "ternary_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr int kThreads = 256;

// Eight threads per group: thread k sums lanes k and k + 8 of ternary.h (elements i with
// i % 16 == k or k + 8); the sixteen lanes of the group are then combined in the order of
// ternary.h on every thread. 32 groups per block.
// Sums of |w| (all weights, or those whose trit for `gamma` is not zero).
__device__ float group_lanes(const float* x, size_t len, unsigned lane, float gamma, bool nonzeroOnly, unsigned* count) {
  float sum[2] = {0.0f, 0.0f};
  unsigned nonzero = 0;
  for (unsigned h = 0; h < 2; ++h)
    for (size_t i = lane + 8 * h; i < len; i += kTernaryLanes) {
      const bool keep = !nonzeroOnly || ternary_code(x[i], gamma) != 1;
      sum[h] += keep ? fabsf(x[i]) : 0.0f;
      nonzero += keep;
    }
  float lanes[kTernaryLanes];
  const unsigned base = (threadIdx.x & ~7u) % 32;
  *count = 0;
  for (int k = 0; k < 8; ++k) {
    lanes[k] = __shfl_sync(0xffffffffu, sum[0], base + k);
    lanes[k + 8] = __shfl_sync(0xffffffffu, sum[1], base + k);
    *count += __shfl_sync(0xffffffffu, nonzero, base + k);
  }
  return ternary_reduce_lanes(lanes);
}

__global__ void group_scales(const float* __restrict__ w, size_t n, size_t group, size_t groups, unsigned rounds,
                             float* __restrict__ gammas, uint16_t* __restrict__ scales) {
  const size_t g = (size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 8;
  const unsigned lane = threadIdx.x % 8;
  const bool active = g < groups;
  const size_t start = active ? g * group : 0;
  const size_t len = active ? (n - start < group ? n - start : group) : 0;
  unsigned count;
  float gamma = group_lanes(w + start, len, lane, 0.0f, false, &count) / float(len ? len : 1);
  // The :opt refinement (ternary_refine). No early exit: every thread of the warp must reach the
  // shuffles; a group whose trits are all zero keeps its γ, as the CPU loop's break does.
  for (unsigned r = 0; r < rounds; ++r) {
    const float sum = group_lanes(w + start, len, lane, gamma, true, &count);
    if (count) gamma = sum / float(count);
  }
  if (active && lane == 0) {
    gammas[g] = gamma;
    scales[g] = f32_to_f16_bits(f32_bits(gamma));
  }
}

// One thread per packed byte; in whole blocks neighbouring threads touch neighbouring elements.
__global__ void encode_bytes(const float* __restrict__ w, size_t n, size_t group, unsigned packing, float tensorScale,
                             const float* __restrict__ gammas, uint8_t* __restrict__ packed) {
  const size_t b = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= ternary_packed_bytes(n, packing)) return;
  unsigned byte = 0;
  for (unsigned k = ternary_per_byte(packing); k-- > 0;) {
    const size_t i = ternary_element(b, k, n, packing);
    const unsigned c = i < n ? ternary_code(w[i], tensorScale >= 0.0f ? tensorScale : gammas[i / group]) : 1u;
    byte = packing == 3 ? byte * 3u + c : (byte << 2) | c;
  }
  packed[b] = uint8_t(byte);
}

// A byte no encoder writes (ternary_byte_fault): p3 above 242, or a p2 code 3 (padding included).
__global__ void decode_bytes(const uint8_t* __restrict__ packed, const uint16_t* __restrict__ scales, size_t n, size_t group,
                             unsigned packing, float tensorScale, float* __restrict__ out, unsigned* fault) {
  const size_t b = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= ternary_packed_bytes(n, packing)) return;
  unsigned v = packed[b];
  if (packing == 3 ? v > 242u : (v & (v >> 1) & 0x55u) != 0u) atomicOr(fault, unsigned(kFaultCode));
  for (unsigned k = 0; k < ternary_per_byte(packing); ++k) {
    const size_t i = ternary_element(b, k, n, packing);
    const unsigned c = packing == 3 ? v % 3u : v & 3u;
    v = packing == 3 ? v / 3u : v >> 2;
    if (i >= n) continue;
    const float s = tensorScale >= 0.0f ? tensorScale : bits_f32(f16_to_f32_bits(scales[i / group]));
    out[i] = float(int(c) - 1) * s;
  }
}

// A group scale that is negative or not finite (f16_scales_fault).
__global__ void scale_faults(const uint16_t* __restrict__ scales, size_t groups, unsigned* fault) {
  const size_t g = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g < groups && scales[g] >= 0x7C00u) atomicOr(fault, unsigned(kFaultScale));
}

unsigned blocksFor(size_t items) { return unsigned((items + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_ternary_encode(const float* w, size_t n, size_t group, unsigned packing, float tensorScale,
                                  unsigned rounds, uint8_t* packed, uint16_t* scales, float* gammas, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (tensorScale < 0.0f) {
    const size_t groups = (n + group - 1) / group;
    group_scales<<<blocksFor(groups * 8), kThreads, 0, s>>>(w, n, group, groups, rounds, gammas, scales);
  }
  encode_bytes<<<blocksFor(ternary_packed_bytes(n, packing)), kThreads, 0, s>>>(w, n, group, packing, tensorScale, gammas, packed);
  return cudaGetLastError();
}

cudaError_t launch_ternary_decode(const uint8_t* packed, const uint16_t* scales, size_t n, size_t group,
                                  unsigned packing, float tensorScale, float* out, unsigned* fault, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (tensorScale < 0.0f) {
    const size_t groups = (n + group - 1) / group;
    scale_faults<<<blocksFor(groups), kThreads, 0, s>>>(scales, groups, fault);
  }
  decode_bytes<<<blocksFor(ternary_packed_bytes(n, packing)), kThreads, 0, s>>>(packed, scales, n, group, packing, tensorScale, out, fault);
  return cudaGetLastError();
}

}  // namespace tz::cuda

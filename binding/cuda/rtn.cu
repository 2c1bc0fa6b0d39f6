// CUDA rtn kernels, following the scalar reference (../cpu/rtn_scalar.cc) operation for operation:
// the group's max |w| (order-free: max returns one of its inputs, and NaN never enters, as with
// std::max(amax, |x|)), its f16 scale from one f32 division, each code from rtn_code, codes packed
// LSB first; decoding float(code − qmax) · scale. So codes, scales and decoded values are the
// CPU's bit for bit.
#include "../cpu/quant/decode_fault.h"
#include "../cpu/quant/rtn.h"
#include "rtn_kernels.cuh"

namespace tz::cuda {

namespace {

constexpr int kThreads = 256;

// std::max(a, b) for the non-negative |w| (a NaN b is ignored; a never is NaN).
__device__ float max_abs(float a, float b) { return a < b ? b : a; }

// One warp per group: each lane takes every 32nd weight, then the lanes' maxima are combined.
__global__ void group_scales(const float* __restrict__ w, size_t n, unsigned bits, size_t group, size_t groups, uint16_t* __restrict__ scales) {
  const size_t g = (size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const unsigned lane = threadIdx.x % 32;
  const size_t start = g < groups ? g * group : n;
  const size_t end = start + group < n ? start + group : n;
  float amax = 0.0f;
  for (size_t i = start + lane; i < end; i += 32) amax = max_abs(amax, fabsf(w[i]));
  for (int offset = 16; offset > 0; offset /= 2) amax = max_abs(amax, __shfl_down_sync(0xffffffffu, amax, offset));
  if (g < groups && lane == 0) scales[g] = rtn_scale_f16(amax, bits);
}

// One thread per 8 codes (group % 8 == 0, so they share a group and fill `bits` whole bytes).
__global__ void encode_octets(const float* __restrict__ w, size_t n, unsigned bits, size_t group, const uint16_t* __restrict__ scales,
                              uint8_t* __restrict__ packed) {
  const size_t j = size_t(blockIdx.x) * blockDim.x + threadIdx.x, first = 8 * j;
  if (first >= n) return;
  const int qmax = rtn_qmax(bits);
  const float inv = rtn_inverse(bits_f32(f16_to_f32_bits(scales[first / group])));
  const uint32_t mask = (1u << bits) - 1u;
  uint64_t acc = 0;
  for (unsigned t = 0; t < 8 && first + t < n; ++t) acc |= uint64_t(rtn_code(w[first + t], inv, qmax) & mask) << (t * bits);
  const size_t bytes = (n * bits + 7) / 8;
  for (unsigned b = 0; b < bits && j * bits + b < bytes; ++b) packed[j * bits + b] = uint8_t(acc >> (8 * b));
}

__global__ void decode_octets(const uint8_t* __restrict__ packed, const uint16_t* __restrict__ scales, size_t n, unsigned bits, size_t group,
                              float* __restrict__ out, unsigned* fault) {
  const size_t j = size_t(blockIdx.x) * blockDim.x + threadIdx.x, first = 8 * j;
  if (first >= n) return;
  const int qmax = rtn_qmax(bits);
  const uint16_t s16 = scales[first / group];
  const float s = bits_f32(f16_to_f32_bits(s16));
  const size_t bytes = (n * bits + 7) / 8;
  uint64_t acc = 0;
  for (unsigned b = 0; b < bits && j * bits + b < bytes; ++b) acc |= uint64_t(packed[j * bits + b]) << (8 * b);
  const uint32_t mask = (1u << bits) - 1u;
  unsigned top = 0;
  for (unsigned t = 0; t < 8 && first + t < n; ++t) {
    const unsigned code = unsigned(acc >> (t * bits)) & mask;
    top = code > top ? code : top;
    out[first + t] = float(int(code) - qmax) * s;
  }
  unsigned f = top > unsigned(2 * qmax) ? kFaultCode : 0u;
  if (first % group == 0 && s16 >= 0x7C00u) f |= kFaultScale;  // once per group
  if (f) atomicOr(fault, f);
}

unsigned blocksFor(size_t items) { return unsigned((items + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_rtn_encode(const float* w, size_t n, unsigned bits, size_t group, uint8_t* packed, uint16_t* scales, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  const size_t groups = (n + group - 1) / group;
  group_scales<<<blocksFor(groups * 32), kThreads, 0, s>>>(w, n, bits, group, groups, scales);
  encode_octets<<<blocksFor((n + 7) / 8), kThreads, 0, s>>>(w, n, bits, group, scales, packed);
  return cudaGetLastError();
}

cudaError_t launch_rtn_decode(const uint8_t* packed, const uint16_t* scales, size_t n, unsigned bits, size_t group, float* out, unsigned* fault,
                              cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  decode_octets<<<blocksFor((n + 7) / 8), kThreads, 0, s>>>(packed, scales, n, bits, group, out, fault);
  return cudaGetLastError();
}

}  // namespace tz::cuda

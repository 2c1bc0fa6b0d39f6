// CUDA dtype conversion. The per-element rule is float_bits.h, the same code the CPU scalar
// reference runs, so results are bit-identical to it (checked by the harness).
#include <cstdint>

#include "../cpu/runtime/float_bits.h"
#include "convert_kernels.cuh"
#include "tensorzip_cuda.h"

namespace tz::cuda {

namespace {

struct F32ToBf16 {
  using In = float;
  using Out = uint16_t;
  __device__ static Out apply(In x) { return f32_to_bf16_bits(f32_bits(x)); }
};
struct Bf16ToF32 {
  using In = uint16_t;
  using Out = float;
  __device__ static Out apply(In x) { return bits_f32(bf16_to_f32_bits(x)); }
};
struct F32ToF16 {
  using In = float;
  using Out = uint16_t;
  __device__ static Out apply(In x) { return f32_to_f16_bits(f32_bits(x)); }
};
struct F16ToF32 {
  using In = uint16_t;
  using Out = float;
  __device__ static Out apply(In x) { return bits_f32(f16_to_f32_bits(x)); }
};

// Four elements per thread per step so loads and stores are wide; the tail is element-wise.
template <class Op>
__global__ void convert_kernel(const typename Op::In* __restrict__ src,
                               typename Op::Out* __restrict__ dst, size_t n) {
  const size_t stride = size_t(blockDim.x) * gridDim.x;
  const size_t quads = n / 4;
  for (size_t q = size_t(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    typename Op::In in[4];
    typename Op::Out out[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) in[k] = src[4 * q + k];
#pragma unroll
    for (int k = 0; k < 4; ++k) out[k] = Op::apply(in[k]);
#pragma unroll
    for (int k = 0; k < 4; ++k) dst[4 * q + k] = out[k];
  }
  const size_t tail = quads * 4 + size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (tail < n) dst[tail] = Op::apply(src[tail]);
}

template <class Op>
cudaError_t launch(const void* src, void* dst, size_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  int device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  const size_t wanted = (n / 4 + threads - 1) / threads;
  const unsigned blocks = unsigned(wanted < size_t(sms) * 8 ? (wanted ? wanted : 1) : size_t(sms) * 8);
  convert_kernel<Op><<<blocks, threads, 0, s>>>(static_cast<const typename Op::In*>(src),
                                                static_cast<typename Op::Out*>(dst), n);
  return cudaGetLastError();
}

}  // namespace

size_t convert_src_size(int kind) {
  switch (kind) {
    case TZC_F32_TO_BF16: case TZC_F32_TO_F16: return 4;
    case TZC_BF16_TO_F32: case TZC_F16_TO_F32: return 2;
    default: return 0;
  }
}

size_t convert_dst_size(int kind) {
  const size_t s = convert_src_size(kind);
  return s ? 6 - s : 0;
}

cudaError_t launch_convert(int kind, const void* src, void* dst, size_t n, cudaStream_t s) {
  switch (kind) {
    case TZC_F32_TO_BF16: return launch<F32ToBf16>(src, dst, n, s);
    case TZC_BF16_TO_F32: return launch<Bf16ToF32>(src, dst, n, s);
    case TZC_F32_TO_F16: return launch<F32ToF16>(src, dst, n, s);
    case TZC_F16_TO_F32: return launch<F16ToF32>(src, dst, n, s);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace tz::cuda

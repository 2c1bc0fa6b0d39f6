// The C ABI of libtensorzip_cuda.so (see tensorzip_cuda.h): device discovery and host-buffer
// entry points that stage data through device memory in bounded chunks.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "convert_kernels.cuh"
#include "seedlm_kernels.cuh"
#include "tensorzip_cuda.h"

namespace {

thread_local std::string lastError;

int fail(const std::string& message) {
  lastError = message;
  return TZC_ERROR;
}

int fail(const char* what, cudaError_t e) {
  return fail(std::string(what) + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

// Device buffers freed on every exit path.
struct DeviceBuffer {
  void* ptr = nullptr;
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

struct Stream {
  cudaStream_t s = nullptr;
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
};

// Elements per staged chunk: bounds device memory use (64 Mi elements = 256 MiB of f32).
constexpr uint64_t kChunk = uint64_t(64) << 20;

}  // namespace

extern "C" {

int tzc_abi_version(void) { return TZC_ABI_VERSION; }

const char* tzc_last_error(void) { return lastError.c_str(); }

int tzc_init(int* device_count) {
  if (!device_count) return fail("tzc_init: device_count is null");
  *device_count = 0;
  const cudaError_t e = cudaGetDeviceCount(device_count);
  if (e != cudaSuccess) {
    *device_count = 0;
    return fail("cudaGetDeviceCount", e);
  }
  return TZC_OK;
}

int tzc_device_info(int device, tzc_device_props* out) {
  if (!out) return fail("tzc_device_info: out is null");
  cudaDeviceProp p;
  const cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return fail("cudaGetDeviceProperties", e);
  std::memset(out, 0, sizeof(*out));
  std::snprintf(out->name, sizeof(out->name), "%s", p.name);
  out->major = p.major;
  out->minor = p.minor;
  out->memory_bytes = p.totalGlobalMem;
  out->multiprocessors = p.multiProcessorCount;
  return TZC_OK;
}

int tzc_convert(int device, int kind, const void* src, void* dst, uint64_t n, const tzc_job* job) {
  const size_t inSize = tz::cuda::convert_src_size(kind), outSize = tz::cuda::convert_dst_size(kind);
  if (!inSize) return fail("tzc_convert: unknown conversion kind " + std::to_string(kind));
  if (n && (!src || !dst)) return fail("tzc_convert: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const uint64_t chunk = std::min<uint64_t>(n, kChunk);
  DeviceBuffer dIn, dOut;
  Stream stream;
  if (chunk) {
    if ((e = cudaMalloc(&dIn.ptr, chunk * inSize)) != cudaSuccess) return fail("cudaMalloc", e);
    if ((e = cudaMalloc(&dOut.ptr, chunk * outSize)) != cudaSuccess) return fail("cudaMalloc", e);
  }
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (job && job->should_stop && job->should_stop(job->user)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);
    const char* s = static_cast<const char*>(src) + begin * inSize;
    char* d = static_cast<char*>(dst) + begin * outSize;
    if ((e = cudaMemcpyAsync(dIn.ptr, s, len * inSize, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_convert(kind, dIn.ptr, dOut.ptr, len, stream.s)) != cudaSuccess)
      return fail("convert kernel launch", e);
    if ((e = cudaMemcpyAsync(d, dOut.ptr, len * outSize, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("convert kernel", e);
    if (job && job->progress) job->progress(job->user, begin + len, n);
  }
  return TZC_OK;
}

int tzc_seedlm_search(int device, unsigned C, unsigned P, const float* table, const float* w, uint64_t blocks, int e_min,
                      uint16_t* seeds, int32_t* exponents, const tzc_job* job) {
  if (!((C == 8 && P == 3) || (C == 12 && P == 4))) return fail("tzc_seedlm_search: C, P must be 8, 3 or 12, 4");
  if (!blocks) return TZC_OK;
  if (!table || !w || !seeds || !exponents) return fail("tzc_seedlm_search: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const size_t tableBytes = size_t(65535) * 2 * C * P * sizeof(float);
  DeviceBuffer dTable, dW, dError, dSeed, dExp;
  Stream stream;
  if ((e = cudaMalloc(&dTable.ptr, tableBytes)) != cudaSuccess || (e = cudaMalloc(&dW.ptr, blocks * C * sizeof(float))) != cudaSuccess ||
      (e = cudaMalloc(&dError.ptr, blocks * sizeof(float))) != cudaSuccess || (e = cudaMalloc(&dSeed.ptr, blocks * sizeof(uint16_t))) != cudaSuccess ||
      (e = cudaMalloc(&dExp.ptr, blocks * sizeof(int32_t))) != cudaSuccess)
    return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemcpyAsync(dTable.ptr, table, tableBytes, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(dW.ptr, w, blocks * C * sizeof(float), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
    return fail("cudaMemcpy to device", e);
  if ((e = tz::cuda::launch_seedlm_reset(static_cast<float*>(dError.ptr), static_cast<uint16_t*>(dSeed.ptr), static_cast<int32_t*>(dExp.ptr), blocks,
                                         stream.s)) != cudaSuccess)
    return fail("seedlm reset", e);
  constexpr unsigned kSeedsPerLaunch = 4096;  // progress and cancellation between launches
  for (unsigned s0 = 1; s0 <= 65535; s0 += kSeedsPerLaunch) {
    if (job && job->should_stop && job->should_stop(job->user)) return TZC_CANCELLED;
    const unsigned s1 = std::min(65536u, s0 + kSeedsPerLaunch);
    if ((e = tz::cuda::launch_seedlm_search(C, P, static_cast<const float*>(dTable.ptr), static_cast<const float*>(dW.ptr), blocks, e_min, s0, s1,
                                            static_cast<float*>(dError.ptr), static_cast<uint16_t*>(dSeed.ptr), static_cast<int32_t*>(dExp.ptr),
                                            stream.s)) != cudaSuccess)
      return fail("seedlm search launch", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("seedlm search", e);
    if (job && job->progress) job->progress(job->user, s1 - 1, 65535);
  }
  if ((e = cudaMemcpy(seeds, dSeed.ptr, blocks * sizeof(uint16_t), cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(exponents, dExp.ptr, blocks * sizeof(int32_t), cudaMemcpyDeviceToHost)) != cudaSuccess)
    return fail("cudaMemcpy to host", e);
  return TZC_OK;
}

}  // extern "C"

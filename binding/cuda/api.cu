// The C ABI of libtensorzip_cuda.so (see tensorzip_cuda.h): device discovery and host-buffer
// entry points that stage data through device memory in bounded chunks.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include <cub/cub.cuh>

#include <numeric>
#include <vector>

#include "../cpu/codec/rans.h"
#include "../cpu/quant/hadamard.h"
#include "convert_kernels.cuh"
#include "hadamard_kernels.cuh"
#include "kmeans_kernels.cuh"
#include "rans_blocks.h"
#include "rans_kernels.cuh"
#include "rtn_kernels.cuh"
#include "seedlm_kernels.cuh"
#include "tensorzip_cuda.h"
#include "ternary_kernels.cuh"

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

// Allocates every (buffer, bytes) pair; false on the first failure (e says why).
bool allocate(std::initializer_list<std::pair<DeviceBuffer*, size_t>> list, cudaError_t& e) {
  for (auto& [b, bytes] : list)
    if ((e = cudaMalloc(&b->ptr, std::max<size_t>(bytes, 1))) != cudaSuccess) return false;
  return true;
}

template <class T>
T* as(DeviceBuffer& b) {
  return static_cast<T*>(b.ptr);
}

// Elements staged per chunk: whole units (groups that start on packing blocks), about kChunk, or
// one unit when a unit is larger.
uint64_t chunkOf(uint64_t n, uint64_t unit) { return std::min(n, unit >= kChunk ? unit : unit * (kChunk / unit)); }

bool stopped(const tzc_job* job) { return job && job->should_stop && job->should_stop(job->user); }

void progress(const tzc_job* job, uint64_t done, uint64_t total) {
  if (job && job->progress) job->progress(job->user, done, total);
}

// ternary's staging unit: whole groups on 32-byte packing blocks (ternary.h).
uint64_t ternaryUnit(uint64_t group, unsigned packing, float tensorScale) {
  const uint64_t block = 32u * (packing == 3 ? 5u : 4u);
  return tensorScale >= 0.0f ? block : std::lcm(group, block);
}

// rANS blocks are staged in batches of consecutive blocks whose source and output spans take at
// most kRansBatch bytes together (one block at least, whatever its size).
constexpr uint64_t kRansBatch = uint64_t(256) << 20;

// The bytes [lo, hi) that a batch's blocks read (or write) in a host buffer.
struct Span {
  uint64_t lo = UINT64_MAX, hi = 0;
  void add(uint64_t at, uint64_t len) {
    lo = std::min(lo, at);
    hi = std::max(hi, at + len);
  }
  uint64_t size() const { return hi > lo ? hi - lo : 0; }
};

struct RansBatch {
  uint64_t begin, end;  // blocks
  Span src, dst;
};

std::vector<RansBatch> ransBatches(const tzc_rans_block* blocks, uint64_t count) {
  std::vector<RansBatch> out;
  for (uint64_t i = 0; i < count;) {
    RansBatch b{i, i, {}, {}};
    while (b.end < count) {
      Span s = b.src, d = b.dst;
      s.add(blocks[b.end].src, blocks[b.end].bytes);
      d.add(blocks[b.end].dst, tz::cuda::rans_output_bytes(blocks[b.end]));
      if (b.end > b.begin && s.size() + d.size() > kRansBatch) break;
      b.src = s, b.dst = d, ++b.end;
    }
    out.push_back(b);
    i = b.end;
  }
  return out;
}

// What a batch writes, as maximal runs of adjacent outputs (offsets from the batch's dst.lo): only
// those come back, so that bytes of dst between blocks are left as they were.
std::vector<std::pair<uint64_t, uint64_t>> ransOutputRuns(const tzc_rans_block* blocks, const RansBatch& b) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // (begin, end)
  for (uint64_t i = b.begin; i < b.end; ++i) {
    const uint64_t at = blocks[i].dst - b.dst.lo, len = tz::cuda::rans_output_bytes(blocks[i]);
    if (len) runs.push_back({at, at + len});
  }
  std::sort(runs.begin(), runs.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : runs) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  return merged;
}

// Encoder blocks are staged in batches of consecutive blocks whose symbols span, with its words
// (two bytes a symbol), takes at most kRansBatch bytes (one block at least).
struct RansEncBatch {
  uint64_t begin, end;  // blocks
  Span symbols;
};

std::vector<RansEncBatch> ransEncBatches(const tzc_rans_enc_block* blocks, uint64_t count) {
  std::vector<RansEncBatch> out;
  for (uint64_t i = 0; i < count;) {
    RansEncBatch b{i, i, {}};
    while (b.end < count) {
      Span s = b.symbols;
      if (blocks[b.end].symbols) s.add(blocks[b.end].symbols_at, blocks[b.end].symbols);
      if (b.end > b.begin && 3 * s.size() > kRansBatch) break;
      b.symbols = s, ++b.end;
    }
    out.push_back(b);
    i = b.end;
  }
  return out;
}

// Launched never: whether the runtime finds code for it tells whether the device can run the library.
__global__ void probe_kernel() {}

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
  cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return fail("cudaGetDeviceProperties", e);
  // A GPU this library has neither code nor PTX for (e.g. compute capability 7.5 with the default
  // architectures) would fail at its first kernel launch: it is refused here, where the loader
  // turns it into the reason the CPU path is used.
  cudaFuncAttributes attributes;
  if ((e = cudaSetDevice(device)) == cudaSuccess) e = cudaFuncGetAttributes(&attributes, probe_kernel);
  if (e != cudaSuccess)
    return fail(std::string(p.name) + " (compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
                    ") cannot run this CUDA library, built for architectures " TZC_CUDA_ARCHITECTURES ": " + cudaGetErrorString(e));
  std::memset(out, 0, sizeof(*out));
  std::snprintf(out->name, sizeof(out->name), "%s", p.name);
  out->major = p.major;
  out->minor = p.minor;
  out->memory_bytes = p.totalGlobalMem;
  out->multiprocessors = p.multiProcessorCount;
  return TZC_OK;
}

int tzc_copy_bandwidth(int device, uint64_t bytes, unsigned repeats, double* bytes_per_second) {
  if (!bytes_per_second || bytes == 0 || repeats == 0) return fail("tzc_copy_bandwidth: bytes and repeats must be positive");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  DeviceBuffer a, b;
  if (!allocate({{&a, bytes}, {&b, bytes}}, e)) return fail("cudaMalloc", e);
  cudaEvent_t start = nullptr, stop = nullptr;
  if ((e = cudaEventCreate(&start)) != cudaSuccess || (e = cudaEventCreate(&stop)) != cudaSuccess) return fail("cudaEventCreate", e);
  std::vector<float> ms(repeats);
  for (unsigned r = 0; r <= repeats && e == cudaSuccess; ++r) {  // copy 0 warms up
    cudaEventRecord(start);
    e = cudaMemcpy(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    if (e == cudaSuccess) e = cudaEventSynchronize(stop);
    if (e == cudaSuccess && r) e = cudaEventElapsedTime(&ms[r - 1], start, stop);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (e != cudaSuccess) return fail("device copy", e);
  std::nth_element(ms.begin(), ms.begin() + repeats / 2, ms.end());
  *bytes_per_second = 2.0 * double(bytes) / (double(ms[repeats / 2]) * 1e-3);
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

int tzc_rtn_encode(int device, const float* w, uint64_t n, unsigned bits, uint64_t group, uint8_t* packed, uint16_t* scales, const tzc_job* job) {
  if (bits < 2 || bits > 8 || group == 0 || group % 8) return fail("tzc_rtn_encode: bits must be 2..8 and group a multiple of 8");
  if (!n) return TZC_OK;
  if (!w || !packed || !scales) return fail("tzc_rtn_encode: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const uint64_t chunk = chunkOf(n, group);
  DeviceBuffer dW, dP, dS;
  Stream stream;
  if (!allocate({{&dW, chunk * 4}, {&dP, (chunk * bits + 7) / 8}, {&dS, (chunk + group - 1) / group * 2}}, e)) return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (stopped(job)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);  // begin is a multiple of group, hence of 8
    if ((e = cudaMemcpyAsync(dW.ptr, w + begin, len * 4, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_rtn_encode(as<float>(dW), len, bits, group, as<uint8_t>(dP), as<uint16_t>(dS), stream.s)) != cudaSuccess)
      return fail("rtn encode launch", e);
    if ((e = cudaMemcpyAsync(packed + begin * bits / 8, dP.ptr, (len * bits + 7) / 8, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess ||
        (e = cudaMemcpyAsync(scales + begin / group, dS.ptr, (len + group - 1) / group * 2, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("rtn encode", e);
    progress(job, begin + len, n);
  }
  return TZC_OK;
}

int tzc_rtn_decode(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, unsigned bits, uint64_t group, float* out,
                   unsigned* fault, const tzc_job* job) {
  if (bits < 2 || bits > 8 || group == 0 || group % 8) return fail("tzc_rtn_decode: bits must be 2..8 and group a multiple of 8");
  if (!fault) return fail("tzc_rtn_decode: fault is null");
  *fault = 0;
  if (!n) return TZC_OK;
  if (!packed || !scales || !out) return fail("tzc_rtn_decode: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const uint64_t chunk = chunkOf(n, group);
  DeviceBuffer dP, dS, dOut, dFault;
  Stream stream;
  if (!allocate({{&dP, (chunk * bits + 7) / 8}, {&dS, (chunk + group - 1) / group * 2}, {&dOut, chunk * 4}, {&dFault, 4}}, e)) return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemsetAsync(dFault.ptr, 0, 4, stream.s)) != cudaSuccess) return fail("cudaMemset", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (stopped(job)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);
    if ((e = cudaMemcpyAsync(dP.ptr, packed + begin * bits / 8, (len * bits + 7) / 8, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
        (e = cudaMemcpyAsync(dS.ptr, scales + begin / group, (len + group - 1) / group * 2, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_rtn_decode(as<uint8_t>(dP), as<uint16_t>(dS), len, bits, group, as<float>(dOut), as<unsigned>(dFault), stream.s)) !=
        cudaSuccess)
      return fail("rtn decode launch", e);
    if ((e = cudaMemcpyAsync(out + begin, dOut.ptr, len * 4, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess) return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("rtn decode", e);
    progress(job, begin + len, n);
  }
  if ((e = cudaMemcpy(fault, dFault.ptr, 4, cudaMemcpyDeviceToHost)) != cudaSuccess) return fail("cudaMemcpy to host", e);
  return TZC_OK;
}

int tzc_ternary_encode(int device, const float* w, uint64_t n, uint64_t group, unsigned packing, float tensor_scale, unsigned rounds,
                       uint8_t* packed, uint16_t* scales, const tzc_job* job) {
  if ((packing != 2 && packing != 3) || group == 0) return fail("tzc_ternary_encode: packing must be 2 or 3 and group positive");
  if (!n) return TZC_OK;
  if (!w || !packed || (tensor_scale < 0.0f && !scales)) return fail("tzc_ternary_encode: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const uint64_t chunk = chunkOf(n, ternaryUnit(group, packing, tensor_scale)), per = packing == 3 ? 5 : 4;
  const uint64_t groups = tensor_scale >= 0.0f ? 0 : (chunk + group - 1) / group;
  DeviceBuffer dW, dP, dS, dG;
  Stream stream;
  if (!allocate({{&dW, chunk * 4}, {&dP, (chunk + per - 1) / per}, {&dS, groups * 2}, {&dG, groups * 4}}, e)) return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (stopped(job)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);  // begin: whole groups, on a packing block
    if ((e = cudaMemcpyAsync(dW.ptr, w + begin, len * 4, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_ternary_encode(as<float>(dW), len, group, packing, tensor_scale, rounds, as<uint8_t>(dP), as<uint16_t>(dS), as<float>(dG),
                                             stream.s)) != cudaSuccess)
      return fail("ternary encode launch", e);
    if ((e = cudaMemcpyAsync(packed + begin / per, dP.ptr, (len + per - 1) / per, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess ||
        (groups && (e = cudaMemcpyAsync(scales + begin / group, dS.ptr, (len + group - 1) / group * 2, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess))
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("ternary encode", e);
    progress(job, begin + len, n);
  }
  return TZC_OK;
}

int tzc_ternary_decode(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, uint64_t group, unsigned packing,
                       float tensor_scale, float* out, unsigned* fault, const tzc_job* job) {
  if ((packing != 2 && packing != 3) || group == 0) return fail("tzc_ternary_decode: packing must be 2 or 3 and group positive");
  if (!fault) return fail("tzc_ternary_decode: fault is null");
  *fault = 0;
  if (!n) return TZC_OK;
  if (!packed || !out || (tensor_scale < 0.0f && !scales)) return fail("tzc_ternary_decode: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const uint64_t chunk = chunkOf(n, ternaryUnit(group, packing, tensor_scale)), per = packing == 3 ? 5 : 4;
  const uint64_t groups = tensor_scale >= 0.0f ? 0 : (chunk + group - 1) / group;
  DeviceBuffer dP, dS, dOut, dFault;
  Stream stream;
  if (!allocate({{&dP, (chunk + per - 1) / per}, {&dS, groups * 2}, {&dOut, chunk * 4}, {&dFault, 4}}, e)) return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemsetAsync(dFault.ptr, 0, 4, stream.s)) != cudaSuccess) return fail("cudaMemset", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (stopped(job)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);
    if ((e = cudaMemcpyAsync(dP.ptr, packed + begin / per, (len + per - 1) / per, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
        (groups && (e = cudaMemcpyAsync(dS.ptr, scales + begin / group, (len + group - 1) / group * 2, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess))
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_ternary_decode(as<uint8_t>(dP), as<uint16_t>(dS), len, group, packing, tensor_scale, as<float>(dOut), as<unsigned>(dFault),
                                             stream.s)) != cudaSuccess)
      return fail("ternary decode launch", e);
    if ((e = cudaMemcpyAsync(out + begin, dOut.ptr, len * 4, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess) return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("ternary decode", e);
    progress(job, begin + len, n);
  }
  if ((e = cudaMemcpy(fault, dFault.ptr, 4, cudaMemcpyDeviceToHost)) != cudaSuccess) return fail("cudaMemcpy to host", e);
  return TZC_OK;
}

int tzc_kmeans_assign(int device, const float* x, uint64_t n, unsigned v, const float* centroids, unsigned k, uint32_t* labels, const tzc_job* job) {
  if (v < 1 || v > 16 || k < 1) return fail("tzc_kmeans_assign: v must be 1..16 and k >= 1");
  if (!n) return TZC_OK;
  if (!x || !centroids || !labels) return fail("tzc_kmeans_assign: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  DeviceBuffer dX, dC, dN, dL;
  Stream stream;
  const uint64_t chunk = std::min<uint64_t>(n, kChunk / v);
  if (!allocate({{&dX, chunk * v * sizeof(float)}, {&dC, size_t(k) * v * sizeof(float)}, {&dN, k * sizeof(float)}, {&dL, chunk * sizeof(uint32_t)}}, e))
    return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemcpyAsync(dC.ptr, centroids, size_t(k) * v * sizeof(float), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
    return fail("cudaMemcpy to device", e);
  if ((e = tz::cuda::launch_kmeans_norms(as<float>(dC), k, v, as<float>(dN), stream.s)) != cudaSuccess) return fail("k-means norms launch", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (job && job->should_stop && job->should_stop(job->user)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);
    if ((e = cudaMemcpyAsync(dX.ptr, x + begin * v, len * v * sizeof(float), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_kmeans_assign(as<float>(dX), len, v, as<float>(dC), as<float>(dN), k, as<uint32_t>(dL), stream.s)) != cudaSuccess)
      return fail("k-means assign launch", e);
    if ((e = cudaMemcpyAsync(labels + begin, dL.ptr, len * sizeof(uint32_t), cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("k-means assign", e);
    if (job && job->progress) job->progress(job->user, begin + len, n);
  }
  return TZC_OK;
}

int tzc_kmeans_lloyd(int device, const float* x, uint64_t n, unsigned v, const float* w, unsigned k, unsigned max_iterations, double tolerance,
                     float* centroids, double* objective, unsigned* iterations, unsigned* repaired, const tzc_job* job) {
  if (v < 1 || v > 16 || k < 1) return fail("tzc_kmeans_lloyd: v must be 1..16 and k >= 1");
  if (n < k) return fail("tzc_kmeans_lloyd: fewer points than centroids");
  if (n > uint64_t(INT32_MAX)) return fail("tzc_kmeans_lloyd: at most 2^31 - 1 points");
  if (!x || !centroids || !objective || !iterations || !repaired) return fail("tzc_kmeans_lloyd: null buffer");
  *iterations = 0;
  *repaired = 0;
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const size_t cBytes = size_t(k) * v * sizeof(float);
  DeviceBuffer dX, dW, dC, dNext, dN, dL, dSorted, dIota, dOrder, dStart, dEnd, dCount, dObj, dFar, dTemp;
  Stream stream;
  int bits = 1;
  while (bits < 32 && (uint64_t(1) << bits) < k) ++bits;
  size_t tempBytes = 0;
  if ((e = cub::DeviceRadixSort::SortPairs(nullptr, tempBytes, as<uint32_t>(dL), as<uint32_t>(dSorted), as<uint32_t>(dIota), as<uint32_t>(dOrder),
                                           int(n), 0, bits)) != cudaSuccess)
    return fail("cub sort size", e);
  if (!allocate({{&dX, n * v * sizeof(float)}, {&dW, w ? n * sizeof(float) : 0}, {&dC, cBytes}, {&dNext, cBytes}, {&dN, k * sizeof(float)},
                 {&dL, n * 4}, {&dSorted, n * 4}, {&dIota, n * 4}, {&dOrder, n * 4}, {&dStart, k * 4}, {&dEnd, k * 4}, {&dCount, k * 4},
                 {&dObj, k * sizeof(double)}, {&dFar, n * sizeof(double)}, {&dTemp, tempBytes}},
                e))
    return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  std::vector<uint32_t> iota(n);
  std::iota(iota.begin(), iota.end(), 0u);
  if ((e = cudaMemcpyAsync(dX.ptr, x, n * v * sizeof(float), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
      (w && (e = cudaMemcpyAsync(dW.ptr, w, n * sizeof(float), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) ||
      (e = cudaMemcpyAsync(dIota.ptr, iota.data(), n * 4, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(dC.ptr, centroids, cBytes, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
    return fail("cudaMemcpy to device", e);
  std::vector<uint32_t> count(k);
  std::vector<double> parts(k), far;
  std::vector<float> next;
  for (unsigned it = 0; it < max_iterations; ++it) {
    if (job && job->should_stop && job->should_stop(job->user)) return TZC_CANCELLED;
    const float* W = w ? as<float>(dW) : nullptr;
    if ((e = tz::cuda::launch_kmeans_norms(as<float>(dC), k, v, as<float>(dN), stream.s)) != cudaSuccess ||
        (e = tz::cuda::launch_kmeans_assign(as<float>(dX), n, v, as<float>(dC), as<float>(dN), k, as<uint32_t>(dL), stream.s)) != cudaSuccess ||
        (e = cub::DeviceRadixSort::SortPairs(dTemp.ptr, tempBytes, as<uint32_t>(dL), as<uint32_t>(dSorted), as<uint32_t>(dIota), as<uint32_t>(dOrder),
                                             int(n), 0, bits, stream.s)) != cudaSuccess ||
        (e = cudaMemsetAsync(dStart.ptr, 0, k * 4, stream.s)) != cudaSuccess || (e = cudaMemsetAsync(dEnd.ptr, 0, k * 4, stream.s)) != cudaSuccess ||
        (e = tz::cuda::launch_kmeans_ranges(as<uint32_t>(dSorted), n, as<uint32_t>(dStart), as<uint32_t>(dEnd), stream.s)) != cudaSuccess ||
        (e = tz::cuda::launch_kmeans_update(as<float>(dX), W, v, as<float>(dC), k, as<uint32_t>(dOrder), as<uint32_t>(dStart), as<uint32_t>(dEnd),
                                            as<float>(dNext), as<uint32_t>(dCount), as<double>(dObj), as<double>(dFar), stream.s)) != cudaSuccess)
      return fail("k-means iteration launch", e);
    if ((e = cudaMemcpyAsync(count.data(), dCount.ptr, k * 4, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess ||
        (e = cudaMemcpyAsync(parts.data(), dObj.ptr, k * sizeof(double), cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess ||
        (e = cudaStreamSynchronize(stream.s)) != cudaSuccess)
      return fail("k-means iteration", e);
    double total = 0;
    for (double p : parts) total += p;
    objective[it] = total;
    *iterations = it + 1;
    // Empty clusters: the farthest points (weighted squared distance; ties to the smaller index),
    // on the host, as kmeans_lloyd does.
    if (std::find(count.begin(), count.end(), 0u) != count.end()) {
      far.resize(n);
      next.resize(size_t(k) * v);
      if ((e = cudaMemcpy(far.data(), dFar.ptr, n * sizeof(double), cudaMemcpyDeviceToHost)) != cudaSuccess ||
          (e = cudaMemcpy(next.data(), dNext.ptr, cBytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return fail("cudaMemcpy to host", e);
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), size_t(0));
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return far[a] > far[b]; });
      size_t taken = 0;
      for (unsigned j = 0; j < k; ++j) {
        if (count[j]) continue;
        const size_t p = order[taken++ % n];
        ++*repaired;
        std::copy(x + p * v, x + (p + 1) * v, next.begin() + size_t(j) * v);
      }
      if ((e = cudaMemcpy(dNext.ptr, next.data(), cBytes, cudaMemcpyHostToDevice)) != cudaSuccess) return fail("cudaMemcpy to device", e);
    }
    std::swap(dC.ptr, dNext.ptr);
    if (job && job->progress) job->progress(job->user, it + 1, max_iterations);
    if (it >= 1 && objective[it - 1] > 0 && (objective[it - 1] - objective[it]) / objective[it - 1] < tolerance) break;
    if (objective[it] == 0) break;
  }
  if ((e = cudaMemcpy(centroids, dC.ptr, cBytes, cudaMemcpyDeviceToHost)) != cudaSuccess) return fail("cudaMemcpy to host", e);
  return TZC_OK;
}

int tzc_hadamard(int device, float* x, uint64_t n, uint64_t period, uint64_t block, const float* m, unsigned inverse, const tzc_job* job) {
  if (!tz::is_hadamard_block(block))
    return fail("tzc_hadamard: block (" + std::to_string(block) + ") must be a power of two from 2 to " + std::to_string(tz::kMaxHadamardBlock));
  if (period == 0 || period % block)
    return fail("tzc_hadamard: period (" + std::to_string(period) + ") must be a positive multiple of block (" + std::to_string(block) + ")");
  if (n % period) return fail("tzc_hadamard: n (" + std::to_string(n) + ") must be a multiple of period (" + std::to_string(period) + ")");
  if (!n) return TZC_OK;
  if (!x || !m) return fail("tzc_hadamard: null buffer");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  // Chunks of whole blocks, which may start inside a row: the launcher is told the column.
  const uint64_t chunk = chunkOf(n, block);
  DeviceBuffer dX, dM;
  Stream stream;
  if (!allocate({{&dX, chunk * 4}, {&dM, period * 4}}, e)) return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemcpyAsync(dM.ptr, m, period * 4, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
  for (uint64_t begin = 0; begin < n; begin += chunk) {
    if (stopped(job)) return TZC_CANCELLED;
    const uint64_t len = std::min(chunk, n - begin);
    if ((e = cudaMemcpyAsync(dX.ptr, x + begin, len * 4, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_hadamard(as<float>(dX), len, period, block, as<float>(dM), begin % period, inverse, stream.s)) != cudaSuccess)
      return fail("hadamard launch", e);
    if ((e = cudaMemcpyAsync(x + begin, dX.ptr, len * 4, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess) return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("hadamard rotation", e);
    progress(job, begin + len, n);
  }
  return TZC_OK;
}

int tzc_rans_decode(int device, const uint8_t* src, uint64_t src_bytes, const tzc_rans_block* blocks, uint64_t count, const uint32_t* tables,
                    uint64_t table_count, uint8_t* dst, uint64_t dst_bytes, uint8_t* faults, const tzc_job* job) {
  if (!count) return TZC_OK;
  if (!src || !blocks || !tables || !dst || !faults) return fail("tzc_rans_decode: null buffer");
  for (uint64_t i = 0; i < count; ++i)
    if (const std::string why = tz::cuda::rans_block_problem(blocks[i], src_bytes, table_count, dst_bytes); !why.empty())
      return fail("tzc_rans_decode: block " + std::to_string(i) + ": " + why);
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const std::vector<RansBatch> batches = ransBatches(blocks, count);
  uint64_t srcMax = 0, dstMax = 0, blocksMax = 0;
  for (const RansBatch& b : batches) {
    srcMax = std::max(srcMax, b.src.size());
    dstMax = std::max(dstMax, b.dst.size());
    blocksMax = std::max(blocksMax, b.end - b.begin);
  }
  const uint64_t tableBytes = table_count * tz::kRansScale * sizeof(uint32_t);
  DeviceBuffer dSrc, dDst, dBlocks, dTables, dFaults;
  Stream stream;
  if (!allocate({{&dSrc, srcMax}, {&dDst, dstMax}, {&dBlocks, blocksMax * sizeof(tzc_rans_block)}, {&dTables, tableBytes}, {&dFaults, blocksMax}}, e))
    return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemcpyAsync(dTables.ptr, tables, tableBytes, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
  std::vector<tzc_rans_block> local;  // the batch's blocks, offsets from its spans
  for (const RansBatch& b : batches) {
    if (stopped(job)) return TZC_CANCELLED;
    local.assign(blocks + b.begin, blocks + b.end);
    for (tzc_rans_block& r : local) r.src -= b.src.lo, r.dst -= b.dst.lo;
    if ((e = cudaMemcpyAsync(dSrc.ptr, src + b.src.lo, b.src.size(), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess ||
        (e = cudaMemcpyAsync(dBlocks.ptr, local.data(), local.size() * sizeof(tzc_rans_block), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_rans_decode(as<uint8_t>(dSrc), as<tzc_rans_block>(dBlocks), local.size(), as<uint32_t>(dTables), as<uint8_t>(dDst),
                                          as<uint8_t>(dFaults), stream.s)) != cudaSuccess)
      return fail("rANS decode launch", e);
    for (const auto& [begin, end] : ransOutputRuns(blocks, b))
      if ((e = cudaMemcpyAsync(dst + b.dst.lo + begin, as<uint8_t>(dDst) + begin, end - begin, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
        return fail("cudaMemcpy to host", e);
    if ((e = cudaMemcpyAsync(faults + b.begin, dFaults.ptr, local.size(), cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("rANS decode", e);
    progress(job, b.end, count);
  }
  return TZC_OK;
}

// A block's words come back once its count is known, only those it emitted (one copy a block).
int tzc_rans_encode(int device, const uint8_t* symbols, uint64_t symbol_bytes, const tzc_rans_enc_block* blocks, uint64_t count,
                    const tzc_rans_enc_table* tables, uint64_t table_count, uint32_t* states, uint16_t* words, uint64_t* word_counts,
                    const tzc_job* job) {
  if (!count) return TZC_OK;
  if (!symbols || !blocks || !tables || !states || !words || !word_counts) return fail("tzc_rans_encode: null buffer");
  for (uint64_t i = 0; i < count; ++i)
    if (const std::string why = tz::cuda::rans_enc_block_problem(blocks[i], symbol_bytes, table_count); !why.empty())
      return fail("tzc_rans_encode: block " + std::to_string(i) + ": " + why);
  if (const std::string why = tz::cuda::rans_enc_overlap(blocks, count); !why.empty()) return fail("tzc_rans_encode: " + why);
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail("cudaSetDevice", e);
  const std::vector<RansEncBatch> batches = ransEncBatches(blocks, count);
  uint64_t symbolsMax = 0, blocksMax = 0;
  for (const RansEncBatch& b : batches) {
    symbolsMax = std::max(symbolsMax, b.symbols.size());
    blocksMax = std::max(blocksMax, b.end - b.begin);
  }
  const uint64_t tableBytes = table_count * sizeof(tzc_rans_enc_table);
  DeviceBuffer dSymbols, dWords, dBlocks, dTables, dStates, dCounts;
  Stream stream;
  if (!allocate({{&dSymbols, symbolsMax}, {&dWords, 2 * symbolsMax}, {&dBlocks, blocksMax * sizeof(tzc_rans_enc_block)}, {&dTables, tableBytes},
                 {&dStates, blocksMax * tz::kRansStateBytes}, {&dCounts, blocksMax * sizeof(uint64_t)}},
                e))
    return fail("cudaMalloc", e);
  if ((e = cudaStreamCreate(&stream.s)) != cudaSuccess) return fail("cudaStreamCreate", e);
  if ((e = cudaMemcpyAsync(dTables.ptr, tables, tableBytes, cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) return fail("cudaMemcpy to device", e);
  std::vector<tzc_rans_enc_block> local;  // the batch's blocks, offsets from its span
  for (const RansEncBatch& b : batches) {
    if (stopped(job)) return TZC_CANCELLED;
    local.assign(blocks + b.begin, blocks + b.end);
    for (tzc_rans_enc_block& r : local) r.symbols_at = r.symbols ? r.symbols_at - b.symbols.lo : 0;  // an empty block touches nothing
    if ((b.symbols.size() &&
         (e = cudaMemcpyAsync(dSymbols.ptr, symbols + b.symbols.lo, b.symbols.size(), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess) ||
        (e = cudaMemcpyAsync(dBlocks.ptr, local.data(), local.size() * sizeof(tzc_rans_enc_block), cudaMemcpyHostToDevice, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to device", e);
    if ((e = tz::cuda::launch_rans_encode(as<uint8_t>(dSymbols), as<tzc_rans_enc_block>(dBlocks), local.size(), as<tzc_rans_enc_table>(dTables),
                                          as<uint32_t>(dStates), as<uint16_t>(dWords), as<uint64_t>(dCounts), stream.s)) != cudaSuccess)
      return fail("rANS encode launch", e);
    if ((e = cudaMemcpyAsync(states + 32 * b.begin, dStates.ptr, local.size() * tz::kRansStateBytes, cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess ||
        (e = cudaMemcpyAsync(word_counts + b.begin, dCounts.ptr, local.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
      return fail("cudaMemcpy to host", e);
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("rANS encode", e);
    for (uint64_t i = b.begin; i < b.end; ++i) {
      const tzc_rans_enc_block& r = local[i - b.begin];
      const uint64_t used = word_counts[i];
      if (used > r.symbols)
        return fail("rANS encode: block " + std::to_string(i) + " emitted " + std::to_string(used) + " words for " + std::to_string(r.symbols) + " symbols");
      if (used && (e = cudaMemcpyAsync(words + blocks[i].symbols_at + r.symbols - used, as<uint16_t>(dWords) + r.symbols_at + r.symbols - used, 2 * used,
                                       cudaMemcpyDeviceToHost, stream.s)) != cudaSuccess)
        return fail("cudaMemcpy to host", e);
    }
    if ((e = cudaStreamSynchronize(stream.s)) != cudaSuccess) return fail("rANS encode", e);
    progress(job, b.end, count);
  }
  return TZC_OK;
}

}  // extern "C"

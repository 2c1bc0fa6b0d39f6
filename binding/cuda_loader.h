// Optional CUDA backend: libtensorzip_cuda.so is dlopened only when an NVIDIA driver is present
// (libcuda.so.1 loads, cuInit succeeds and reports a device). Everything else runs on the CPU,
// and the reason is kept for backendInfo(). Probed once per process, on first use.
//
// Environment: TENSORZIP_CUDA=off disables it; TENSORZIP_CUDA_LIBRARY overrides the library path
// (default: next to tensorzip.node); TENSORZIP_LIBCUDA overrides the driver library name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/tensorzip_cuda.h"

namespace tz {

struct GpuInfo {
  std::string name;
  int major = 0, minor = 0;
  uint64_t memoryBytes = 0;
  int multiprocessors = 0;
};

struct CudaBackend {
  bool available = false;
  std::string reason;   // why it is unavailable
  std::string library;  // path of the loaded library
  std::vector<GpuInfo> gpus;
  int (*convert)(int device, int kind, const void* src, void* dst, uint64_t n, const tzc_job* job) = nullptr;
  int (*copyBandwidth)(int device, uint64_t bytes, unsigned repeats, double* bytes_per_second) = nullptr;
  int (*seedlmSearch)(int device, unsigned C, unsigned P, const float* table, const float* w, uint64_t blocks, int e_min, uint16_t* seeds,
                      int32_t* exponents, const tzc_job* job) = nullptr;
  int (*rtnEncode)(int device, const float* w, uint64_t n, unsigned bits, uint64_t group, uint8_t* packed, uint16_t* scales, const tzc_job* job) = nullptr;
  int (*rtnDecode)(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, unsigned bits, uint64_t group, float* out, unsigned* fault,
                   const tzc_job* job) = nullptr;
  int (*ternaryEncode)(int device, const float* w, uint64_t n, uint64_t group, unsigned packing, float tensorScale, unsigned rounds, uint8_t* packed,
                       uint16_t* scales, const tzc_job* job) = nullptr;
  int (*ternaryDecode)(int device, const uint8_t* packed, const uint16_t* scales, uint64_t n, uint64_t group, unsigned packing, float tensorScale,
                       float* out, unsigned* fault, const tzc_job* job) = nullptr;
  int (*kmeansAssign)(int device, const float* x, uint64_t n, unsigned v, const float* centroids, unsigned k, uint32_t* labels,
                      const tzc_job* job) = nullptr;
  int (*kmeansLloyd)(int device, const float* x, uint64_t n, unsigned v, const float* w, unsigned k, unsigned max_iterations, double tolerance,
                     float* centroids, double* objective, unsigned* iterations, unsigned* repaired, const tzc_job* job) = nullptr;
  int (*hadamard)(int device, float* x, uint64_t n, uint64_t period, uint64_t block, const float* m, unsigned inverse, const tzc_job* job) = nullptr;
  int (*ransDecode)(int device, const uint8_t* src, uint64_t srcBytes, const tzc_rans_block* blocks, uint64_t count, const uint32_t* tables,
                    uint64_t tableCount, uint8_t* dst, uint64_t dstBytes, uint8_t* faults, const tzc_job* job) = nullptr;
  int (*ransEncode)(int device, const uint8_t* symbols, uint64_t symbolBytes, const tzc_rans_enc_block* blocks, uint64_t count,
                    const tzc_rans_enc_table* tables, uint64_t tableCount, uint32_t* states, uint16_t* words, uint64_t* wordCounts,
                    const tzc_job* job) = nullptr;
  const char* (*lastError)() = nullptr;
};

const CudaBackend& Cuda();

}  // namespace tz

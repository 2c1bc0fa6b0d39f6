// Dtype conversion entry points: convert() (synchronous, for small arrays and tests that pin a
// kernel path) and convertAsync() (a job: threads, progress, cancellation, optional CUDA).
#include <cstring>
#include <stdexcept>

#include "args.h"
#include "bindings.h"
#include "cpu/runtime/kernels.h"
#include "cpu/runtime/parallel.h"
#include "cuda_call.h"
#include "native_job.h"

namespace tz {

namespace {

struct ConvertKind {
  const char* name;
  napi_typedarray_type src, dst;
  int cudaKind;
  void (*run)(const KernelTable& k, const void* src, void* dst, size_t n);
};

const ConvertKind kKinds[] = {
    {"f32_to_bf16", napi_float32_array, napi_uint16_array, TZC_F32_TO_BF16,
     [](const KernelTable& k, const void* s, void* d, size_t n) {
       k.f32_to_bf16(static_cast<const float*>(s), static_cast<uint16_t*>(d), n);
     }},
    {"bf16_to_f32", napi_uint16_array, napi_float32_array, TZC_BF16_TO_F32,
     [](const KernelTable& k, const void* s, void* d, size_t n) {
       k.bf16_to_f32(static_cast<const uint16_t*>(s), static_cast<float*>(d), n);
     }},
    {"f32_to_f16", napi_float32_array, napi_uint16_array, TZC_F32_TO_F16,
     [](const KernelTable& k, const void* s, void* d, size_t n) {
       k.f32_to_f16(static_cast<const float*>(s), static_cast<uint16_t*>(d), n);
     }},
    {"f16_to_f32", napi_uint16_array, napi_float32_array, TZC_F16_TO_F32,
     [](const KernelTable& k, const void* s, void* d, size_t n) {
       k.f16_to_f32(static_cast<const uint16_t*>(s), static_cast<float*>(d), n);
     }},
};

struct ConvertCall {
  const ConvertKind* kind;
  Napi::TypedArray src, dst;
  size_t n;
};

// convert(kind, src, dst, ...): validates the kind, both arrays' types, equal lengths, no overlap.
ConvertCall ParseConvert(const Napi::CallbackInfo& info) {
  const std::string name = RequireString(info, 0, "kind");
  const ConvertKind* kind = nullptr;
  for (const auto& k : kKinds)
    if (name == k.name) kind = &k;
  if (!kind) throw Napi::TypeError::New(info.Env(), "unknown conversion kind '" + name + "'");
  Napi::TypedArray src = RequireTypedArray(info, 1, kind->src, "source");
  Napi::TypedArray dst = RequireTypedArray(info, 2, kind->dst, "destination");
  if (src.ElementLength() != dst.ElementLength())
    throw Napi::RangeError::New(info.Env(), "destination has " + std::to_string(dst.ElementLength()) +
                                                " elements, source has " + std::to_string(src.ElementLength()));
  RequireDisjoint(src, dst, "source and destination");
  return {kind, src, dst, src.ElementLength()};
}

// convert(kind, src, dst, path?) with path 'auto' (the dispatched table), 'scalar' or 'avx2'.
Napi::Value Convert(const Napi::CallbackInfo& info) {
  ConvertCall c = ParseConvert(info);
  c.kind->run(RequireKernelPath(info, 3), TypedArrayBytes(c.src), TypedArrayBytes(c.dst), c.n);
  return info.Env().Undefined();
}

// convertAsync(kind, src, dst, { threads, device, cudaDevice }, onProgress) -> { promise, cancel }
Napi::Value ConvertAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConvertCall c = ParseConvert(info);
  Napi::Object options = OptionalObject(info, 3, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const int gpu = OptionalCudaDevice(env, options);
  const ConvertKind* kind = c.kind;
  const void* src = TypedArrayBytes(c.src);
  void* dst = TypedArrayBytes(c.dst);
  const size_t n = c.n;
  const size_t srcSize = c.src.ByteLength() / (n ? n : 1), dstSize = c.dst.ByteLength() / (n ? n : 1);

  JobWork work;
  if (gpu < 0) {
    const KernelTable* table = &kernels();
    work = [=](JobContext& ctx) -> JobResult {
      // 1 Mi elements per chunk: large enough to amortise scheduling, small enough for prompt
      // cancellation and smooth progress.
      parallel_for(n, size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) {
        kind->run(*table, static_cast<const uint8_t*>(src) + b * srcSize, static_cast<uint8_t*>(dst) + b * dstSize, e - b);
      });
      return nullptr;
    };
  } else {
    work = [=](JobContext& ctx) -> JobResult {
      const tzc_job job = CudaJob(ctx);
      CheckCuda(Cuda().convert(gpu, kind->cudaKind, src, dst, n, &job), "conversion");
      return nullptr;
    };
  }
  return StartJob(env, std::move(work), {info.Length() > 4 ? info[4] : env.Undefined(), {c.src, c.dst}});
}

}  // namespace

void RegisterConvert(Napi::Env env, Napi::Object exports) {
  exports.Set("convert", Napi::Function::New(env, Convert, "convert"));
  exports.Set("convertAsync", Napi::Function::New(env, ConvertAsync, "convertAsync"));
}

}  // namespace tz

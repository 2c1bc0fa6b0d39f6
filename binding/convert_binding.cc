// Dtype conversion: convert({ kind, src, dst, threads?, device?, cudaDevice? }, onProgress), a job
// (threads, progress, cancellation, optionally on the GPU). kind: 'f32_to_bf16', 'bf16_to_f32',
// 'f32_to_f16' or 'f16_to_f32'; src and dst of equal length, not overlapping.
// Rows f32_to_bf16, bf16_to_f32, f32_to_f16, f16_to_f32 (kernel_row.h) take { src, dst }.
#include <cstring>
#include <stdexcept>

#include "args.h"
#include "bindings.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cuda_call.h"
#include "kernel_row.h"
#include "named_args.h"
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

const ConvertKind& KindNamed(Napi::Env env, const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k;
  throw Napi::TypeError::New(env, "unknown conversion kind '" + name + "'");
}

struct ConvertCall {
  const ConvertKind* kind;
  const void* src;
  void* dst;
  size_t n;
};

// { src, dst }: both arrays' types for the kind, equal lengths, no overlap.
ConvertCall ParseConvert(NamedArgs& a, const ConvertKind& kind) {
  Napi::TypedArray src = a.array("src", kind.src);
  Napi::TypedArray dst = a.array("dst", kind.dst);
  if (src.ElementLength() != dst.ElementLength())
    throw Napi::RangeError::New(a.Env(), "dst has " + std::to_string(dst.ElementLength()) + " elements, src has " + std::to_string(src.ElementLength()));
  RequireDisjoint(src, dst, "src and dst");
  return {&kind, TypedArrayBytes(src), TypedArrayBytes(dst), src.ElementLength()};
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const ConvertCall c = ParseConvert(a, KindNamed(env, a.string("kind")));
  const unsigned threads = a.threads();
  const int gpu = OptionalCudaDevice(env, a.object());
  const size_t srcSize = c.kind->src == napi_float32_array ? 4 : 2, dstSize = c.kind->dst == napi_float32_array ? 4 : 2;
  JobWork work;
  if (gpu < 0) {
    const KernelTable* table = &kernels();
    work = [=](JobContext& ctx) -> JobResult {
      // 1 Mi elements per chunk: large enough to amortise scheduling, small enough for prompt
      // cancellation and smooth progress.
      parallel_for(c.n, size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) {
        c.kind->run(*table, static_cast<const uint8_t*>(c.src) + b * srcSize, static_cast<uint8_t*>(c.dst) + b * dstSize, e - b);
      });
      return nullptr;
    };
  } else {
    work = [=](JobContext& ctx) -> JobResult {
      const tzc_job job = CudaJob(ctx);
      CheckCuda(Cuda().convert(gpu, c.kind->cudaKind, c.src, c.dst, c.n, &job), "conversion");
      return nullptr;
    };
  }
  return StartJob(env, std::move(work), {info.Length() > 1 ? info[1] : env.Undefined(), std::move(a.keep())});
}

unsigned RunConvertRow(NamedArgs& a, const KernelTable& k, const char* kind) {
  const ConvertCall c = ParseConvert(a, KindNamed(a.Env(), kind));
  c.kind->run(k, c.src, c.dst, c.n);
  return 0;
}

}  // namespace

unsigned RunRow_f32_to_bf16(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f32_to_bf16"); }
unsigned RunRow_bf16_to_f32(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "bf16_to_f32"); }
unsigned RunRow_f32_to_f16(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f32_to_f16"); }
unsigned RunRow_f16_to_f32(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f16_to_f32"); }

void RegisterConvert(Napi::Env env, Napi::Object exports) {
  exports.Set("convert", Napi::Function::New(env, Convert, "convert"));
}

}  // namespace tz

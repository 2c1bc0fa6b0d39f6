// backendInfo(): which CPU kernel path is in use, the KernelTable's rows, whether the CUDA backend
// is available, and how many native jobs are running now (tests check that none leak).
#include "bindings.h"
#include "kernel_row.h"
#include "native_job.h"
#include "cpu/runtime/cpu_features.h"
#include "cpu/runtime/kernels.h"
#include "cuda_loader.h"

namespace tz {

namespace {

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", kernels().name);
  out.Set("cpuReason", kernels_reason());
  const CpuFeatures& f = cpu_features();
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx", f.avx);
  features.Set("avx2", f.avx2);
  features.Set("fma", f.fma);
  features.Set("f16c", f.f16c);
  out.Set("cpuFeatures", features);
  out.Set("kernelRows", KernelRowNames(env));
  out.Set("activeJobs", double(ActiveJobs()));

  const CudaBackend& cuda = Cuda();
  Napi::Object c = Napi::Object::New(env);
  if (cuda.available) {
    c.Set("library", cuda.library);
    Napi::Array gpus = Napi::Array::New(env, cuda.gpus.size());
    for (size_t i = 0; i < cuda.gpus.size(); ++i) {
      const GpuInfo& g = cuda.gpus[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", g.name);
      o.Set("computeCapability", std::to_string(g.major) + "." + std::to_string(g.minor));
      o.Set("memoryBytes", double(g.memoryBytes));
      o.Set("multiprocessors", g.multiprocessors);
      gpus.Set(uint32_t(i), o);
    }
    c.Set("gpus", gpus);
  } else {
    c.Set("unavailable", cuda.reason);
  }
  out.Set("cuda", c);
  return out;
}

}  // namespace

void RegisterBackend(Napi::Env env, Napi::Object exports) {
  exports.Set("backendInfo", Napi::Function::New(env, BackendInfo, "backendInfo"));
}

}  // namespace tz

#include "cuda_call.h"

#include <stdexcept>
#include <string>

#include "args.h"

namespace tz {

int OptionalCudaDevice(Napi::Env env, const Napi::Object& options) {
  const std::string device = OptionalString(options, "device", "cpu");
  if (device == "cpu") return -1;
  if (device != "cuda") throw Napi::TypeError::New(env, "option device must be 'cpu' or 'cuda'");
  const CudaBackend& cuda = Cuda();
  if (!cuda.available) throw Napi::Error::New(env, "CUDA is not available: " + cuda.reason);
  return int(OptionalInt(options, "cudaDevice", 0, 0, int64_t(cuda.gpus.size()) - 1));
}

tzc_job CudaJob(JobContext& ctx) {
  return tzc_job{&ctx, [](void* u) { return int(static_cast<JobContext*>(u)->cancelled()); },
                 [](void* u, uint64_t d, uint64_t t) { static_cast<JobContext*>(u)->progress(d, t); }};
}

void CheckCuda(int rc, const char* what) {
  if (rc == TZC_CANCELLED) throw JobCancelled();
  if (rc != TZC_OK) throw std::runtime_error(std::string(what) + " failed on the GPU: " + Cuda().lastError());
}

}  // namespace tz

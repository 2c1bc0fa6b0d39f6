#include "cuda_call.h"

#include <stdexcept>
#include <string>


namespace tz {

tzc_job CudaJob(JobContext& ctx) {
  return tzc_job{&ctx, [](void* u) { return int(static_cast<JobContext*>(u)->cancelled()); },
                 [](void* u, uint64_t d, uint64_t t) { static_cast<JobContext*>(u)->progress(d, t); }};
}

void CheckCuda(int rc, const char* what) {
  if (rc == TZC_CANCELLED) throw JobCancelled();
  if (rc != TZC_OK) throw std::runtime_error(std::string(what) + " failed on the GPU: " + Cuda().lastError());
}

}  // namespace tz

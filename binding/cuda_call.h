// A libtensorzip_cuda call run inside a job (cuda_backend.cc), with the job's cancellation and
// progress wired through tzc_job.
#pragma once
#include "cpu/runtime/job_context.h"
#include "cuda_loader.h"

namespace tz {

// A tzc_job that polls ctx for cancellation and forwards progress to it.
tzc_job CudaJob(JobContext& ctx);

// Turns a libtensorzip_cuda return code into JobCancelled, or an error naming `what` and the
// library's message.
void CheckCuda(int rc, const char* what);

}  // namespace tz

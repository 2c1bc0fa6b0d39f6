// What every binding that can run on the GPU shares: the device a call's options choose
// ({ device: 'cpu' | 'cuda', cudaDevice: N }) and a libtensorzip_cuda call run inside a job, with
// the job's cancellation and progress wired through tzc_job.
#pragma once
#include <napi.h>

#include "cpu/runtime/job_context.h"
#include "cuda_loader.h"

namespace tz {

// The GPU index the options ask for, or -1 for the CPU (the default). Throws when 'cuda' is asked
// for and the backend is unavailable (with the reason) or the index is not a device.
int OptionalCudaDevice(Napi::Env env, const Napi::Object& options);

// A tzc_job that polls ctx for cancellation and forwards progress to it.
tzc_job CudaJob(JobContext& ctx);

// Turns a libtensorzip_cuda return code into JobCancelled, or an error naming `what` and the
// library's message.
void CheckCuda(int rc, const char* what);

}  // namespace tz

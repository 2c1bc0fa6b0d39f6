// Job-machinery exports: copy() and measurePeak() (the memory-bandwidth, FMA and GPU-copy
// yardsticks benchmarks compare kernels to), and jobSelfTest(), a job with controllable steps,
// delay and failure that the tests use to exercise progress, cancellation and error paths.
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "args.h"
#include "bindings.h"
#include "cpu/runtime/cpu_features.h"
#include "cpu/runtime/fma_peak.h"
#include "cpu/runtime/parallel.h"
#include "cuda_loader.h"
#include "named_args.h"
#include "native_job.h"

namespace tz {

namespace {

// copy(dst, src, threads?): memcpy in 1 MiB chunks on `threads` threads (synchronous).
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::TypedArray dst = RequireTypedArray(info, 0, napi_uint8_array, "destination");
  Napi::TypedArray src = RequireTypedArray(info, 1, napi_uint8_array, "source");
  if (dst.ByteLength() != src.ByteLength()) throw Napi::RangeError::New(info.Env(), "source and destination lengths differ");
  RequireDisjoint(src, dst, "source and destination");
  const unsigned threads = info.Length() > 2 && !info[2].IsUndefined() ? info[2].As<Napi::Number>().Uint32Value() : 1;
  uint8_t* d = TypedArrayBytes(dst);
  const uint8_t* s = TypedArrayBytes(src);
  JobContext ctx;
  parallel_for(src.ByteLength(), size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) { std::memcpy(d + b, s + b, e - b); });
  return info.Env().Undefined();
}

// measurePeak({ kind: 'fma', threads, seconds }) -> f32 GFLOP/s of 8-wide FMAs (NaN without
// AVX2/FMA); measurePeak({ kind: 'cuda-copy', device, bytes }) -> device-to-device bytes read +
// written per second, throwing when the CUDA backend is unavailable (backendInfo() says why).
Napi::Value MeasurePeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const std::string kind = a.string("kind");
  if (kind == "fma") {
    const unsigned threads = unsigned(a.integer("threads", 1, 1024));
    const double seconds = a.number("seconds");
    if (!(seconds > 0 && seconds <= 60)) throw Napi::RangeError::New(env, "seconds must be in (0, 60]");
    return Napi::Number::New(env, cpu_features().avx2Path() ? fma_peak_gflops(threads, seconds) : std::nan(""));
  }
  if (kind == "cuda-copy") {
    const CudaBackend& cuda = Cuda();
    if (!cuda.available) throw Napi::Error::New(env, "CUDA unavailable: " + cuda.reason);
    const int device = int(a.integer("device", 0, int64_t(cuda.gpus.size()) - 1));
    const uint64_t bytes = uint64_t(a.integer("bytes", 1, int64_t(1) << 34));
    double out = 0;
    if (cuda.copyBandwidth(device, bytes, 20, &out) != TZC_OK) throw Napi::Error::New(env, std::string("CUDA copy: ") + cuda.lastError());
    return Napi::Number::New(env, out);
  }
  throw Napi::TypeError::New(env, "kind must be 'fma' or 'cuda-copy', got '" + kind + "'");
}

// jobSelfTest({ steps, stepMs, failAt }, onProgress) -> { promise, cancel }; resolves with steps.
Napi::Value JobSelfTest(const Napi::CallbackInfo& info) {
  Napi::Object options = OptionalObject(info, 0, "options");
  const int64_t steps = OptionalInt(options, "steps", 10, 0, 1000000);
  const int64_t stepMs = OptionalInt(options, "stepMs", 1, 0, 60000);
  const int64_t failAt = OptionalInt(options, "failAt", -1, -1, 1000000);
  JobWork work = [=](JobContext& ctx) -> JobResult {
    for (int64_t i = 0; i < steps; ++i) {
      ctx.throwIfCancelled();
      if (i == failAt) throw std::runtime_error("self-test job failed at step " + std::to_string(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(stepMs));
      ctx.progress(uint64_t(i + 1), uint64_t(steps));
    }
    return [steps](Napi::Env env) { return Napi::Number::New(env, double(steps)); };
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 1 ? info[1] : info.Env().Undefined(), {}});
}

}  // namespace

void RegisterJobs(Napi::Env env, Napi::Object exports) {
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("measurePeak", Napi::Function::New(env, MeasurePeak, "measurePeak"));
  exports.Set("jobSelfTest", Napi::Function::New(env, JobSelfTest, "jobSelfTest"));
}

}  // namespace tz

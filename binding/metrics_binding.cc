// tensorStats(weights): what lossy methods need before encoding; tensorStats(original,
// reconstructed): the error statistics of a reconstruction.
#include "args.h"
#include "bindings.h"
#include "cpu/quant/error_stats.h"

namespace tz {

namespace {

// -> { nonFinite, absSum, absMax }, or with a reconstruction { signal, noise, dot, recon, maxAbs }
Napi::Value TensorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = RequireTypedArray(info, 0, napi_float32_array, "original");
  const float* x = reinterpret_cast<const float*>(TypedArrayBytes(a));
  Napi::Object out = Napi::Object::New(env);
  if (info.Length() < 2 || info[1].IsUndefined()) {
    const WeightStats s = weight_stats(x, a.ElementLength());
    out.Set("nonFinite", double(s.nonFinite));
    out.Set("absSum", s.absSum);
    out.Set("absMax", s.absMax);
    return out;
  }
  Napi::TypedArray b = RequireTypedArray(info, 1, napi_float32_array, "reconstructed");
  if (a.ElementLength() != b.ElementLength()) throw Napi::RangeError::New(env, "original and reconstructed differ in length");
  ErrorSums s;
  add_error_sums(x, reinterpret_cast<const float*>(TypedArrayBytes(b)), a.ElementLength(), s);
  out.Set("signal", s.signal);
  out.Set("noise", s.noise);
  out.Set("dot", s.dot);
  out.Set("recon", s.recon);
  out.Set("maxAbs", s.maxAbs);
  return out;
}

}  // namespace

void RegisterMetrics(Napi::Env env, Napi::Object exports) {
  exports.Set("tensorStats", Napi::Function::New(env, TensorStats, "tensorStats"));
}

}  // namespace tz

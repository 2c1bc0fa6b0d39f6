// Error statistics (errorSums) and the statistics lossy methods need before encoding (weightStats).
#include "args.h"
#include "bindings.h"
#include "cpu/quant/error_stats.h"

namespace tz {

namespace {

// errorSums(original, reconstructed) -> { signal, noise, dot, recon, maxAbs }
Napi::Value ErrorSumsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = RequireTypedArray(info, 0, napi_float32_array, "original");
  Napi::TypedArray b = RequireTypedArray(info, 1, napi_float32_array, "reconstructed");
  if (a.ElementLength() != b.ElementLength()) throw Napi::RangeError::New(env, "original and reconstructed differ in length");
  ErrorSums s;
  add_error_sums(reinterpret_cast<const float*>(TypedArrayBytes(a)), reinterpret_cast<const float*>(TypedArrayBytes(b)),
                 a.ElementLength(), s);
  Napi::Object out = Napi::Object::New(env);
  out.Set("signal", s.signal);
  out.Set("noise", s.noise);
  out.Set("dot", s.dot);
  out.Set("recon", s.recon);
  out.Set("maxAbs", s.maxAbs);
  return out;
}

// weightStats(weights) -> { nonFinite, absSum, absMax }
Napi::Value WeightStatsJs(const Napi::CallbackInfo& info) {
  Napi::TypedArray w = RequireTypedArray(info, 0, napi_float32_array, "weights");
  const WeightStats s = weight_stats(reinterpret_cast<const float*>(TypedArrayBytes(w)), w.ElementLength());
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("nonFinite", double(s.nonFinite));
  out.Set("absSum", s.absSum);
  out.Set("absMax", s.absMax);
  return out;
}

}  // namespace

void RegisterMetrics(Napi::Env env, Napi::Object exports) {
  exports.Set("errorSums", Napi::Function::New(env, ErrorSumsJs, "errorSums"));
  exports.Set("weightStats", Napi::Function::New(env, WeightStatsJs, "weightStats"));
}

}  // namespace tz

// tensorStats(weights): what lossy methods need before encoding; tensorStats(original,
// reconstructed): the error statistics of a reconstruction.
#include "args.h"
#include "bindings.h"
#include "cpu/quant/error_stats.h"

namespace tz {

namespace {

// The elements of info[i]: a Float32Array (F32), or a Uint16Array of BF16 or F16 (info[2]).
struct Elements {
  const void* data;
  size_t n;
  FloatType type;
};

Elements ReadElements(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Env env = info.Env();
  if (!info[i].IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array, or a Uint16Array of BF16 or F16");
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  if (a.TypedArrayType() == napi_float32_array) return {TypedArrayBytes(a), a.ElementLength(), FloatType::F32};
  const std::string dtype = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  if (a.TypedArrayType() != napi_uint16_array || (dtype != "BF16" && dtype != "F16"))
    throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array, or a Uint16Array with dtype 'BF16' or 'F16'");
  return {TypedArrayBytes(a), a.ElementLength(), dtype == "BF16" ? FloatType::BF16 : FloatType::F16};
}

// tensorStats(weights, reconstructed?, dtype?) -> { nonFinite, absSum, absMax }, or with a
// reconstruction (same type and length) { signal, noise, dot, recon, maxAbs }.
Napi::Value TensorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Elements a = ReadElements(info, 0, "weights");
  Napi::Object out = Napi::Object::New(env);
  if (info.Length() < 2 || info[1].IsUndefined()) {
    const WeightStats s = weight_stats(a.data, a.type, a.n);
    out.Set("nonFinite", double(s.nonFinite));
    out.Set("absSum", s.absSum);
    out.Set("absMax", s.absMax);
    return out;
  }
  const Elements b = ReadElements(info, 1, "reconstructed");
  if (a.n != b.n || a.type != b.type) throw Napi::RangeError::New(env, "original and reconstructed differ in length or type");
  ErrorSums s;
  add_error_sums(a.data, b.data, a.type, a.n, s);
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

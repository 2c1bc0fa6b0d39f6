// tensorStats: what lossy methods need before encoding, or with a reconstruction its error
// statistics (cpu/quant/error_stats.h; the same figures either way it is called):
//   tensorStats(weights, reconstructed?, dtype?): on the calling thread, for small arrays;
//   tensorStats({ weights, reconstructed?, dtype?, threads? }, onProgress?): a job on threads.
// Elements are a Float32Array, or a Uint16Array of BF16 or F16 patterns (dtype). The result is
// { nonFinite, absSum, absMax }, or with a reconstruction { signal, noise, dot, recon, maxAbs }.
// Rows error_window ({ weights, reconstructed, dtype?, out }) and stats_window ({ weights,
// dtype?, out }) run one window of any length and write those figures, in that order, into the
// Float64Array out (5 or 3 values).
#include "args.h"
#include "bindings.h"
#include "kernel_row.h"
#include "cpu/quant/error_stats.h"
#include "named_args.h"
#include "native_job.h"

#include <algorithm>
#include <iterator>

namespace tz {

namespace {

struct Elements {
  const void* data;
  size_t n;
  FloatType type;
};

// A Float32Array (F32), or a Uint16Array of the 16-bit dtype named.
Elements ReadElements(Napi::Env env, Napi::Value v, const std::string& dtype, const char* what) {
  if (v.IsTypedArray()) {
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    if (a.TypedArrayType() == napi_float32_array && (dtype.empty() || dtype == "F32")) return {TypedArrayBytes(a), a.ElementLength(), FloatType::F32};
    if (a.TypedArrayType() == napi_uint16_array && (dtype == "BF16" || dtype == "F16"))
      return {TypedArrayBytes(a), a.ElementLength(), dtype == "BF16" ? FloatType::BF16 : FloatType::F16};
  }
  throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array, or a Uint16Array with dtype 'BF16' or 'F16'");
}

Napi::Object StatsObject(Napi::Env env, const WeightStats& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("nonFinite", double(s.nonFinite));
  out.Set("absSum", s.absSum);
  out.Set("absMax", s.absMax);
  return out;
}

Napi::Object SumsObject(Napi::Env env, const ErrorSums& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("signal", s.signal);
  out.Set("noise", s.noise);
  out.Set("dot", s.dot);
  out.Set("recon", s.recon);
  out.Set("maxAbs", s.maxAbs);
  return out;
}

void RequireSameShape(Napi::Env env, const Elements& a, const Elements& b) {
  if (a.n != b.n || a.type != b.type) throw Napi::RangeError::New(env, "original and reconstructed differ in length or type");
}

Napi::Value TensorStatsJob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const std::string dtype = a.has("dtype") ? a.string("dtype") : "";
  const Elements w = ReadElements(env, a.get("weights"), dtype, "weights");
  a.keep().push_back(a.get("weights").As<Napi::Object>());
  const bool withRecon = a.has("reconstructed");
  const Elements r = withRecon ? ReadElements(env, a.get("reconstructed"), dtype, "reconstructed") : w;
  if (withRecon) {
    RequireSameShape(env, w, r);
    a.keep().push_back(a.get("reconstructed").As<Napi::Object>());
  }
  const unsigned threads = a.threads();
  JobWork work = [=](JobContext& ctx) -> JobResult {
    if (!withRecon) {
      const WeightStats s = weight_stats(w.data, w.type, w.n, threads, &ctx);
      return [s](Napi::Env e) -> Napi::Value { return StatsObject(e, s); };
    }
    const ErrorSums s = error_sums(w.data, r.data, w.type, w.n, threads, &ctx);
    return [s](Napi::Env e) -> Napi::Value { return SumsObject(e, s); };
  };
  return StartJob(env, std::move(work), {info.Length() > 1 ? info[1] : env.Undefined(), std::move(a.keep())});
}

Napi::Value TensorStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsObject() && !info[0].IsTypedArray()) return TensorStatsJob(info);
  const std::string dtype = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  const Elements a = ReadElements(env, info.Length() > 0 ? info[0] : env.Undefined(), dtype, "weights");
  if (info.Length() < 2 || info[1].IsUndefined()) return StatsObject(env, weight_stats(a.data, a.type, a.n));
  const Elements b = ReadElements(env, info[1], dtype, "reconstructed");
  RequireSameShape(env, a, b);
  return SumsObject(env, error_sums(a.data, b.data, a.type, a.n));
}

// The arguments of a row: the elements, and the Float64Array of `values` figures it writes.
std::pair<Elements, double*> RowArgs(NamedArgs& a, const char* key, size_t values) {
  const std::string dtype = a.has("dtype") ? a.string("dtype") : "";
  const Elements e = ReadElements(a.Env(), a.get(key), dtype, key);
  Napi::TypedArray out = a.array("out", napi_float64_array);
  if (out.ElementLength() != values) throw Napi::RangeError::New(a.Env(), "out must hold " + std::to_string(values) + " values");
  return {e, reinterpret_cast<double*>(TypedArrayBytes(out))};
}

}  // namespace

unsigned RunRow_error_window(NamedArgs& a, const KernelTable& k) {
  const auto [w, out] = RowArgs(a, "weights", 5);
  const Elements r = ReadElements(a.Env(), a.get("reconstructed"), a.has("dtype") ? a.string("dtype") : "", "reconstructed");
  RequireSameShape(a.Env(), w, r);
  ErrorSums s;
  k.error_window(w.data, r.data, w.type, w.n, &s);
  const double v[] = {s.signal, s.noise, s.dot, s.recon, s.maxAbs};
  std::copy(std::begin(v), std::end(v), out);
  return 0;
}

unsigned RunRow_stats_window(NamedArgs& a, const KernelTable& k) {
  const auto [w, out] = RowArgs(a, "weights", 3);
  WeightStats s;
  k.stats_window(w.data, w.type, w.n, &s);
  const double v[] = {double(s.nonFinite), s.absSum, s.absMax};
  std::copy(std::begin(v), std::end(v), out);
  return 0;
}

Napi::Object ErrorSumsObject(Napi::Env env, const ErrorSums& s) { return SumsObject(env, s); }

void RegisterMetrics(Napi::Env env, Napi::Object exports) {
  exports.Set("tensorStats", Napi::Function::New(env, TensorStats, "tensorStats"));
}

}  // namespace tz

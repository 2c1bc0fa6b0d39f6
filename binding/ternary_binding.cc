// ternary entry points (definition in cpu/ternary.h), arguments by name; jobs run over whole
// groups and packing blocks.
//   ternaryEncode({ weights, dtype, group, packing, tensorScale?, rounds?, packed, scales,
//     importance?, measure?, threads?, device? }, onProgress); measure: the job also decodes and
//     resolves with the error sums against the weights (cpu_backend.h ternary_measure).
//   ternaryDecode({ out, dtype, group, packing, tensorScale?, packed, scales, threads?, device? },
//     onProgress)
// dtype 'F32' (a Float32Array) or 'BF16' / 'F16' (a Uint16Array of raw bits); decode writes that
// dtype, and refuses codes and scales no encoder writes. tensorScale >= 0: that one scale for
// every weight (scales empty); absent or < 0: one f16 absmean scale per group (scales holds
// ceil(n/group) values), refined `rounds` times (:opt). importance (one f32 >= 0 per weight, group
// scales and rounds only): each refined scale is chosen by the importance-weighted error
// (cpu/ternary_weighted.h). device: where the job runs (backend_table.h).
// Rows ternary_encode and ternary_decode (kernel_row.h) take the same arguments, without importance.
#include <cmath>

#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/quant/ternary.h"
#include "cpu_backend.h"
#include "kernel_row.h"

namespace tz {

namespace {

TernaryCall ParseTernary(NamedArgs& a, bool encode, bool importance) {
  Napi::Env env = a.Env();
  const std::string dtype = a.string("dtype");
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16") throw Napi::TypeError::New(env, "dtype must be 'F32', 'BF16' or 'F16', got '" + dtype + "'");
  const FloatType type = dtype == "F32" ? FloatType::F32 : dtype == "BF16" ? FloatType::BF16 : FloatType::F16;
  Napi::TypedArray weights = a.array(encode ? "weights" : "out", type == FloatType::F32 ? napi_float32_array : napi_uint16_array);
  const size_t group = size_t(a.integer("group", 1, int64_t(1) << 40));
  const unsigned packing = unsigned(a.integer("packing", 2, 3));
  const float tensorScale = a.has("tensorScale") ? float(a.number("tensorScale")) : -1.0f;
  if (!(tensorScale < 0) && !std::isfinite(tensorScale)) throw Napi::RangeError::New(env, "tensorScale must be finite");
  const unsigned rounds = encode ? unsigned(a.optionalInteger("rounds", 0, 0, 16)) : 0;
  if (rounds && tensorScale >= 0) throw Napi::RangeError::New(env, "rounds needs group scales, not a tensor scale");
  Napi::TypedArray packed = a.array("packed", napi_uint8_array);
  Napi::TypedArray scales = a.array("scales", napi_uint16_array);
  const size_t n = weights.ElementLength();
  const size_t wantPacked = ternary_packed_bytes(n, packing);
  const size_t wantScales = tensorScale >= 0 ? 0 : (n + group - 1) / group;
  if (packed.ByteLength() != wantPacked)
    throw Napi::RangeError::New(env, "packed must hold " + std::to_string(wantPacked) + " bytes, got " + std::to_string(packed.ByteLength()));
  if (scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(scales.ElementLength()));
  RequireDisjoint(weights, packed, "weights and packed");
  RequireDisjoint(weights, scales, "weights and scales");
  const float* weighting = importance ? a.nonNegative("importance", n, "weight") : nullptr;
  if (weighting && tensorScale >= 0) throw Napi::RangeError::New(env, "importance weighting needs group scales, not a tensor scale");
  return {TypedArrayBytes(weights), type, TypedArrayBytes(packed), reinterpret_cast<uint16_t*>(TypedArrayBytes(scales)),
          n, group, packing, rounds, tensorScale, weighting};
}

template <bool Encode>
Napi::Value Ternary(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const TernaryCall c = ParseTernary(a, Encode, Encode);
  const Capability<TernaryCall>& row = Encode ? backend_table().ternaryEncode : backend_table().ternaryDecode;
  if (!(Encode && a.get("measure").ToBoolean())) return StartCapabilityJob(info, a, row, c);
  const unsigned threads = a.threads();
  return StartCapabilityJob(info, a, row, c, [c, threads](JobContext& ctx, const std::function<void()>& run) -> JobResult {
    run();
    const ErrorSums s = cpu_backend::ternary_measure(kernels(), c, threads, ctx);
    return [s](Napi::Env env) -> Napi::Value { return ErrorSumsObject(env, s); };
  });
}

}  // namespace

unsigned RunRow_ternary_encode(NamedArgs& a, const KernelTable& k) {
  const TernaryCall c = ParseTernary(a, true, false);
  k.ternary_encode(c.w, c.type, c.n, c.group, c.packing, c.tensorScale, c.rounds, c.packed, c.scales);
  return 0;
}

unsigned RunRow_ternary_decode(NamedArgs& a, const KernelTable& k) {
  const TernaryCall c = ParseTernary(a, false, false);
  return k.ternary_decode(c.packed, c.scales, c.n, c.group, c.packing, c.tensorScale, c.w, c.type);
}

void RegisterTernary(Napi::Env env, Napi::Object exports) {
  exports.Set("ternaryEncode", Napi::Function::New(env, Ternary<true>, "ternaryEncode"));
  exports.Set("ternaryDecode", Napi::Function::New(env, Ternary<false>, "ternaryDecode"));
}

}  // namespace tz

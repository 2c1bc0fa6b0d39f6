// rtn entry points: rtnEncode / rtnDecode (synchronous, with a pinnable kernel path for tests)
// and rtnEncodeAsync / rtnDecodeAsync (jobs, parallel over whole groups).
//   (weights, bits, group, codes, scales, path | options, onProgress)
// Decoding refuses codes and scales no encoder writes (cpu/rtn.h).
// rtnEncodeWeightedAsync(weights, bits, group, codes, scales, importance, options, onProgress):
//   the importance-weighted scale search (cpu/rtn_weighted.h); importance: one f32 >= 0 per weight.
#include <algorithm>

#include "bindings.h"
#include "cpu/codec/bitpack.h"
#include "cpu/quant/rtn.h"
#include "cpu/quant/rtn_weighted.h"
#include "kernel_entry.h"

namespace tz {

namespace {

struct RtnRaw {
  float* w;
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned bits;
};

// Checks the sizes the packed layout implies (rtn.h); `keep` receives the arrays.
RtnRaw ParseRtn(const Napi::CallbackInfo& info, std::vector<Napi::Object>& keep) {
  Napi::Env env = info.Env();
  Napi::TypedArray weights = RequireTypedArray(info, 0, napi_float32_array, "weights");
  const unsigned bits = unsigned(RequireInt(info, 1, "bits", 2, 8));
  const size_t group = size_t(RequireInt(info, 2, "group", 8, 1 << 20));
  if (group % 8) throw Napi::RangeError::New(env, "group must be a multiple of 8");
  Napi::TypedArray codes = RequireTypedArray(info, 3, napi_uint8_array, "codes");
  Napi::TypedArray scales = RequireTypedArray(info, 4, napi_uint16_array, "scales");
  const size_t n = weights.ElementLength();
  const size_t wantCodes = packed_bytes(n, bits), wantScales = (n + group - 1) / group;
  if (codes.ByteLength() != wantCodes)
    throw Napi::RangeError::New(env, "codes must hold " + std::to_string(wantCodes) + " bytes, got " + std::to_string(codes.ByteLength()));
  if (scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(scales.ElementLength()));
  RequireDisjoint(weights, codes, "weights and codes");
  RequireDisjoint(weights, scales, "weights and scales");
  RequireDisjoint(codes, scales, "codes and scales");
  keep = {weights, codes, scales};
  return {reinterpret_cast<float*>(TypedArrayBytes(weights)), TypedArrayBytes(codes),
          reinterpret_cast<uint16_t*>(TypedArrayBytes(scales)), n, group, bits};
}

// [first, first + count) starts on a group, hence (group % 8 == 0) on a byte of the codes.
template <bool Encode>
void RunRtn(const KernelTable& k, const RtnRaw& c, size_t first, size_t count) {
  uint8_t* packed = c.packed + first * c.bits / 8;
  uint16_t* scales = c.scales + first / c.group;
  if (Encode) return k.rtn_encode(c.w + first, count, c.bits, c.group, packed, scales);
  const unsigned fault = k.rtn_decode(packed, scales, count, c.bits, c.group, c.w + first);
  if (fault & kFaultCode)
    throw std::runtime_error("rtn: the stored codes hold a value above " + std::to_string(2 * rtn_qmax(c.bits)) + " (" + std::to_string(c.bits) +
                             "-bit codes run 0.." + std::to_string(2 * rtn_qmax(c.bits)) + ")");
  if (fault & kFaultScale) throw std::runtime_error("rtn: the stored scales hold a negative or non-finite value");
}

template <bool Encode>
Napi::Value RtnSync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  return RunKernelNow(info, ParseRtn(info, keep), 5, RunRtn<Encode>);
}

template <bool Encode>
Napi::Value RtnAsync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  const RtnRaw c = ParseRtn(info, keep);
  const size_t chunk = c.group * std::max<size_t>(1, (size_t(1) << 18) / c.group);  // whole groups
  return StartKernelJob(info, c, chunk, std::move(keep), 5, RunRtn<Encode>);
}

struct RtnWeightedRaw : RtnRaw {
  const float* importance;
};

Napi::Value RtnWeightedAsync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  RtnWeightedRaw c{ParseRtn(info, keep), nullptr};
  c.importance = RequireNonNegative(info, 5, c.n, "importance", "weight", keep);
  const size_t chunk = c.group * std::max<size_t>(1, (size_t(1) << 16) / c.group);  // whole groups
  return StartKernelJob(info, c, chunk, std::move(keep), 6, [](const KernelTable&, const RtnWeightedRaw& r, size_t first, size_t count) {
    rtn_encode_weighted(r.w + first, r.importance + first, count, r.bits, r.group, r.packed + first * r.bits / 8, r.scales + first / r.group);
  });
}

}  // namespace

void RegisterRtn(Napi::Env env, Napi::Object exports) {
  exports.Set("rtnEncode", Napi::Function::New(env, RtnSync<true>, "rtnEncode"));
  exports.Set("rtnDecode", Napi::Function::New(env, RtnSync<false>, "rtnDecode"));
  exports.Set("rtnEncodeAsync", Napi::Function::New(env, RtnAsync<true>, "rtnEncodeAsync"));
  exports.Set("rtnDecodeAsync", Napi::Function::New(env, RtnAsync<false>, "rtnDecodeAsync"));
  exports.Set("rtnEncodeWeightedAsync", Napi::Function::New(env, RtnWeightedAsync, "rtnEncodeWeightedAsync"));
}

}  // namespace tz

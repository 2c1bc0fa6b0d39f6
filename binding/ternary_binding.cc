// ternary entry points: ternaryEncode / ternaryDecode (synchronous, pinnable kernel path) and
// ternaryEncodeAsync / ternaryDecodeAsync (jobs, parallel over whole groups and packing blocks).
//   (weights, dtype, group, packing, tensorScale, rounds, packed, scales, path | options, onProgress)
// dtype 'F32' (weights a Float32Array) or 'BF16' / 'F16' (a Uint16Array of raw bits); decode
// writes its output in that dtype, and refuses codes and scales no encoder writes (cpu/ternary.h).
// tensorScale < 0: one f16 absmean scale per group (scales holds ceil(n/group) values), refined
// `rounds` times (:opt); tensorScale >= 0: that one scale for every weight (scales empty).
// ternaryEncodeWeightedAsync(weights, dtype, group, packing, -1, rounds, packed, scales, importance,
//   options, onProgress): :opt with importance (cpu/ternary_weighted.h); one f32 >= 0 per weight.
#include <algorithm>
#include <numeric>

#include "bindings.h"
#include "cpu/quant/ternary.h"
#include "cpu/quant/ternary_weighted.h"
#include "kernel_entry.h"

namespace tz {

namespace {

struct TernaryRaw {
  void* w;
  FloatType type;
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned packing, rounds;
  float tensorScale;
};

TernaryRaw ParseTernary(const Napi::CallbackInfo& info, std::vector<Napi::Object>& keep) {
  Napi::Env env = info.Env();
  const std::string dtype = RequireString(info, 1, "dtype");
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16") throw Napi::TypeError::New(env, "dtype must be 'F32', 'BF16' or 'F16', got '" + dtype + "'");
  const FloatType type = dtype == "F32" ? FloatType::F32 : dtype == "BF16" ? FloatType::BF16 : FloatType::F16;
  Napi::TypedArray weights = RequireTypedArray(info, 0, type == FloatType::F32 ? napi_float32_array : napi_uint16_array, "weights");
  const size_t group = size_t(RequireInt(info, 2, "group", 1, int64_t(1) << 40));
  const unsigned packing = unsigned(RequireInt(info, 3, "packing", 2, 3));
  if (!info[4].IsNumber()) throw Napi::TypeError::New(env, "tensorScale must be a number");
  const float tensorScale = info[4].As<Napi::Number>().FloatValue();
  if (!(tensorScale < 0) && !std::isfinite(tensorScale)) throw Napi::RangeError::New(env, "tensorScale must be finite");
  const unsigned rounds = unsigned(RequireInt(info, 5, "rounds", 0, 16));
  if (rounds && tensorScale >= 0) throw Napi::RangeError::New(env, "rounds needs group scales, not a tensor scale");
  Napi::TypedArray packed = RequireTypedArray(info, 6, napi_uint8_array, "packed");
  Napi::TypedArray scales = RequireTypedArray(info, 7, napi_uint16_array, "scales");
  const size_t n = weights.ElementLength();
  const size_t wantPacked = ternary_packed_bytes(n, packing);
  const size_t wantScales = tensorScale >= 0 ? 0 : (n + group - 1) / group;
  if (packed.ByteLength() != wantPacked)
    throw Napi::RangeError::New(env, "packed must hold " + std::to_string(wantPacked) + " bytes, got " + std::to_string(packed.ByteLength()));
  if (scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(scales.ElementLength()));
  RequireDisjoint(weights, packed, "weights and packed");
  RequireDisjoint(weights, scales, "weights and scales");
  keep = {weights, packed, scales};
  return {TypedArrayBytes(weights), type, TypedArrayBytes(packed), reinterpret_cast<uint16_t*>(TypedArrayBytes(scales)),
          n, group, packing, rounds, tensorScale};
}

// [first, first + count): `first` is a multiple of the group and of the packing block.
template <bool Encode>
void RunTernary(const KernelTable& k, const TernaryRaw& c, size_t first, size_t count) {
  uint8_t* packed = c.packed + first / ternary_per_byte(c.packing);
  uint16_t* scales = c.tensorScale >= 0 ? c.scales : c.scales + first / c.group;
  uint8_t* w = static_cast<uint8_t*>(c.w) + first * float_type_bytes(c.type);
  if (Encode) return k.ternary_encode(w, c.type, count, c.group, c.packing, c.tensorScale, c.rounds, packed, scales);
  const unsigned fault = k.ternary_decode(packed, scales, count, c.group, c.packing, c.tensorScale, w, c.type);
  if (fault & kFaultCode)
    throw std::runtime_error(c.packing == 3 ? "ternary: the stored codes hold a byte above 242 (p3 packs 5 trits per byte, 0..242)"
                                            : "ternary: the stored codes hold a 2-bit code 3 (p2 codes run 0..2)");
  if (fault & kFaultScale) throw std::runtime_error("ternary: the stored scales hold a negative or non-finite value");
}

template <bool Encode>
Napi::Value TernarySync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  return RunKernelNow(info, ParseTernary(info, keep), 8, RunTernary<Encode>);
}

// Chunks of whole groups that also start on a packing block: a multiple of lcm(group, block).
size_t JobChunk(const TernaryRaw& c) {
  const size_t block = ternary_block(c.packing);
  const size_t unit = c.tensorScale >= 0 ? block : std::lcm(c.group, block);
  return unit * std::max<size_t>(1, (size_t(1) << 18) / unit);
}

template <bool Encode>
Napi::Value TernaryAsync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  const TernaryRaw c = ParseTernary(info, keep);
  return StartKernelJob(info, c, JobChunk(c), std::move(keep), 8, RunTernary<Encode>);
}

struct TernaryWeightedRaw : TernaryRaw {
  const float* importance;
};

Napi::Value TernaryWeightedAsync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  TernaryWeightedRaw c{ParseTernary(info, keep), nullptr};
  if (c.tensorScale >= 0) throw Napi::RangeError::New(info.Env(), "importance weighting needs group scales, not a tensor scale");
  c.importance = RequireNonNegative(info, 8, c.n, "importance", "weight", keep);
  return StartKernelJob(info, c, JobChunk(c), std::move(keep), 9, [](const KernelTable&, const TernaryWeightedRaw& r, size_t first, size_t count) {
    const uint8_t* w = static_cast<const uint8_t*>(r.w) + first * float_type_bytes(r.type);
    ternary_encode_weighted(w, r.type, count, r.group, r.packing, r.rounds, r.importance + first, r.packed + first / ternary_per_byte(r.packing), r.scales + first / r.group);
  });
}

}  // namespace

void RegisterTernary(Napi::Env env, Napi::Object exports) {
  exports.Set("ternaryEncode", Napi::Function::New(env, TernarySync<true>, "ternaryEncode"));
  exports.Set("ternaryDecode", Napi::Function::New(env, TernarySync<false>, "ternaryDecode"));
  exports.Set("ternaryEncodeAsync", Napi::Function::New(env, TernaryAsync<true>, "ternaryEncodeAsync"));
  exports.Set("ternaryDecodeAsync", Napi::Function::New(env, TernaryAsync<false>, "ternaryDecodeAsync"));
  exports.Set("ternaryEncodeWeightedAsync", Napi::Function::New(env, TernaryWeightedAsync, "ternaryEncodeWeightedAsync"));
}

}  // namespace tz

// ternary entry points (definition in cpu/ternary.h), arguments by name; jobs run over whole
// groups and packing blocks.
//   ternaryEncode({ weights, dtype, group, packing, tensorScale?, rounds?, packed, scales,
//     importance?, threads? }, onProgress)
//   ternaryDecode({ out, dtype, group, packing, tensorScale?, packed, scales, threads? }, onProgress)
// dtype 'F32' (a Float32Array) or 'BF16' / 'F16' (a Uint16Array of raw bits); decode writes that
// dtype, and refuses codes and scales no encoder writes. tensorScale >= 0: that one scale for
// every weight (scales empty); absent or < 0: one f16 absmean scale per group (scales holds
// ceil(n/group) values), refined `rounds` times (:opt). importance (one f32 >= 0 per weight, group
// scales and rounds only): each refined scale is chosen by the importance-weighted error
// (cpu/ternary_weighted.h).
// Rows ternary_encode and ternary_decode (kernel_row.h) take the same arguments, without importance.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "args.h"
#include "bindings.h"
#include "cpu/ternary.h"
#include "cpu/ternary_weighted.h"
#include "kernel_entry.h"
#include "kernel_row.h"

namespace tz {

namespace {

struct TernaryRaw {
  void* w;  // the weights (encode) or the output (decode), as `type`
  FloatType type;
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned packing, rounds;
  float tensorScale;
  const float* importance;  // encode only; nullptr: unweighted
};

TernaryRaw ParseTernary(NamedArgs& a, bool encode, bool importance) {
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

void CheckTernaryFault(unsigned fault, unsigned packing) {
  if (fault & kFaultCode)
    throw std::runtime_error(packing == 3 ? "ternary: the stored codes hold a byte above 242 (p3 packs 5 trits per byte, 0..242)"
                                          : "ternary: the stored codes hold a 2-bit code 3 (p2 codes run 0..2)");
  if (fault & kFaultScale) throw std::runtime_error("ternary: the stored scales hold a negative or non-finite value");
}

// [first, first + count): `first` is a multiple of the group and of the packing block.
template <bool Encode>
void RunTernary(const KernelTable& k, const TernaryRaw& c, size_t first, size_t count) {
  uint8_t* packed = c.packed + first / ternary_per_byte(c.packing);
  uint16_t* scales = c.tensorScale >= 0 ? c.scales : c.scales + first / c.group;
  uint8_t* w = static_cast<uint8_t*>(c.w) + first * float_type_bytes(c.type);
  if (Encode && c.importance) return ternary_encode_weighted(w, c.type, count, c.group, c.packing, c.rounds, c.importance + first, packed, scales);
  if (Encode) return k.ternary_encode(w, c.type, count, c.group, c.packing, c.tensorScale, c.rounds, packed, scales);
  CheckTernaryFault(k.ternary_decode(packed, scales, count, c.group, c.packing, c.tensorScale, w, c.type), c.packing);
}

// Chunks of whole groups that also start on a packing block: a multiple of lcm(group, block).
size_t JobChunk(const TernaryRaw& c) {
  const size_t block = ternary_block(c.packing);
  const size_t unit = c.tensorScale >= 0 ? block : std::lcm(c.group, block);
  return unit * std::max<size_t>(1, (size_t(1) << 18) / unit);
}

template <bool Encode>
Napi::Value Ternary(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const TernaryRaw c = ParseTernary(a, Encode, Encode);
  return StartKernelJob(info, a, c, JobChunk(c), RunTernary<Encode>);
}

}  // namespace

unsigned RunRow_ternary_encode(NamedArgs& a, const KernelTable& k) {
  const TernaryRaw c = ParseTernary(a, true, false);
  k.ternary_encode(c.w, c.type, c.n, c.group, c.packing, c.tensorScale, c.rounds, c.packed, c.scales);
  return 0;
}

unsigned RunRow_ternary_decode(NamedArgs& a, const KernelTable& k) {
  const TernaryRaw c = ParseTernary(a, false, false);
  return k.ternary_decode(c.packed, c.scales, c.n, c.group, c.packing, c.tensorScale, c.w, c.type);
}

void RegisterTernary(Napi::Env env, Napi::Object exports) {
  exports.Set("ternaryEncode", Napi::Function::New(env, Ternary<true>, "ternaryEncode"));
  exports.Set("ternaryDecode", Napi::Function::New(env, Ternary<false>, "ternaryDecode"));
}

}  // namespace tz

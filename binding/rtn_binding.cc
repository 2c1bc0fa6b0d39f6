// rtn entry points (definition in cpu/rtn.h), arguments by name; jobs run over whole groups.
//   rtnEncode({ weights, bits, group, codes, scales, importance?, threads? }, onProgress): with
//     importance (one f32 >= 0 per weight, as llama.cpp's quantize takes an imatrix) each group's
//     scale minimises the importance-weighted error (cpu/rtn_weighted.h); decoding is the same.
//   rtnDecode({ out, bits, group, codes, scales, threads? }, onProgress): refuses codes and scales
//     no encoder writes (cpu/rtn.h).
// Rows rtn_encode and rtn_decode (kernel_row.h) take the same arguments, without importance.
#include <algorithm>

#include "bindings.h"
#include "cpu/bitpack.h"
#include "cpu/rtn.h"
#include "cpu/rtn_weighted.h"
#include "args.h"
#include "kernel_entry.h"
#include "kernel_row.h"

namespace tz {

namespace {

struct RtnRaw {
  float* w;  // the weights (encode) or the output (decode)
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned bits;
  const float* importance;  // encode only; nullptr: plain absmax scales
};

// Checks the sizes the packed layout implies (rtn.h).
RtnRaw ParseRtn(NamedArgs& a, bool encode, bool importance) {
  Napi::Env env = a.Env();
  Napi::TypedArray weights = a.array(encode ? "weights" : "out", napi_float32_array);
  const unsigned bits = unsigned(a.integer("bits", 2, 8));
  const size_t group = size_t(a.integer("group", 8, 1 << 20));
  if (group % 8) throw Napi::RangeError::New(env, "group must be a multiple of 8");
  Napi::TypedArray codes = a.array("codes", napi_uint8_array);
  Napi::TypedArray scales = a.array("scales", napi_uint16_array);
  const size_t n = weights.ElementLength();
  const size_t wantCodes = packed_bytes(n, bits), wantScales = (n + group - 1) / group;
  if (codes.ByteLength() != wantCodes)
    throw Napi::RangeError::New(env, "codes must hold " + std::to_string(wantCodes) + " bytes, got " + std::to_string(codes.ByteLength()));
  if (scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(scales.ElementLength()));
  RequireDisjoint(weights, codes, "weights and codes");
  RequireDisjoint(weights, scales, "weights and scales");
  RequireDisjoint(codes, scales, "codes and scales");
  return {reinterpret_cast<float*>(TypedArrayBytes(weights)), TypedArrayBytes(codes), reinterpret_cast<uint16_t*>(TypedArrayBytes(scales)), n, group, bits,
          importance ? a.nonNegative("importance", n, "weight") : nullptr};
}

void CheckRtnFault(unsigned fault, unsigned bits) {
  if (fault & kFaultCode)
    throw std::runtime_error("rtn: the stored codes hold a value above " + std::to_string(2 * rtn_qmax(bits)) + " (" + std::to_string(bits) +
                             "-bit codes run 0.." + std::to_string(2 * rtn_qmax(bits)) + ")");
  if (fault & kFaultScale) throw std::runtime_error("rtn: the stored scales hold a negative or non-finite value");
}

// [first, first + count) starts on a group, hence (group % 8 == 0) on a byte of the codes.
template <bool Encode>
void RunRtn(const KernelTable& k, const RtnRaw& c, size_t first, size_t count) {
  uint8_t* packed = c.packed + first * c.bits / 8;
  uint16_t* scales = c.scales + first / c.group;
  if (Encode && c.importance) return rtn_encode_weighted(c.w + first, c.importance + first, count, c.bits, c.group, packed, scales);
  if (Encode) return k.rtn_encode(c.w + first, count, c.bits, c.group, packed, scales);
  CheckRtnFault(k.rtn_decode(packed, scales, count, c.bits, c.group, c.w + first), c.bits);
}

template <bool Encode>
Napi::Value Rtn(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const RtnRaw c = ParseRtn(a, Encode, Encode);
  // Whole groups; the weighted search tries many scales per group, so its chunks are smaller
  // (progress and cancellation stay prompt).
  const size_t target = c.importance ? size_t(1) << 16 : size_t(1) << 18;
  return StartKernelJob(info, a, c, c.group * std::max<size_t>(1, target / c.group), RunRtn<Encode>);
}

}  // namespace

unsigned RunRow_rtn_encode(NamedArgs& a, const KernelTable& k) {
  const RtnRaw c = ParseRtn(a, true, false);
  k.rtn_encode(c.w, c.n, c.bits, c.group, c.packed, c.scales);
  return 0;
}

unsigned RunRow_rtn_decode(NamedArgs& a, const KernelTable& k) {
  const RtnRaw c = ParseRtn(a, false, false);
  return k.rtn_decode(c.packed, c.scales, c.n, c.bits, c.group, c.w);
}

void RegisterRtn(Napi::Env env, Napi::Object exports) {
  exports.Set("rtnEncode", Napi::Function::New(env, Rtn<true>, "rtnEncode"));
  exports.Set("rtnDecode", Napi::Function::New(env, Rtn<false>, "rtnDecode"));
}

}  // namespace tz

// rtn entry points (definition in cpu/rtn.h), arguments by name; jobs run over whole groups.
//   rtnEncode({ weights, bits, group, codes, scales, importance?, threads?, device? }, onProgress): with
//     importance (one f32 >= 0 per weight, as llama.cpp's quantize takes an imatrix) each group's
//     scale minimises the importance-weighted error (cpu/rtn_weighted.h); decoding is the same.
//   rtnDecode({ out, bits, group, codes, scales, threads?, device? }, onProgress): refuses codes and
//     scales no encoder writes (cpu/rtn.h).
// device: where the job runs (backend_table.h).
// Rows rtn_encode and rtn_decode (kernel_row.h) take the same arguments, without importance.
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/codec/bitpack.h"
#include "cpu/quant/rtn.h"
#include "kernel_row.h"

namespace tz {

namespace {

// Checks the sizes the packed layout implies (rtn.h).
RtnCall ParseRtn(NamedArgs& a, bool encode, bool importance) {
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

template <bool Encode>
Napi::Value Rtn(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const RtnCall c = ParseRtn(a, Encode, Encode);
  return StartCapabilityJob(info, a, Encode ? backend_table().rtnEncode : backend_table().rtnDecode, c);
}

}  // namespace

unsigned RunRow_rtn_encode(NamedArgs& a, const KernelTable& k) {
  const RtnCall c = ParseRtn(a, true, false);
  k.rtn_encode(c.w, c.n, c.bits, c.group, c.packed, c.scales);
  return 0;
}

unsigned RunRow_rtn_decode(NamedArgs& a, const KernelTable& k) {
  const RtnCall c = ParseRtn(a, false, false);
  return k.rtn_decode(c.packed, c.scales, c.n, c.bits, c.group, c.w);
}

void RegisterRtn(Napi::Env env, Napi::Object exports) {
  exports.Set("rtnEncode", Napi::Function::New(env, Rtn<true>, "rtnEncode"));
  exports.Set("rtnDecode", Napi::Function::New(env, Rtn<false>, "rtnDecode"));
}

}  // namespace tz

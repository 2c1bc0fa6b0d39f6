// Fixed-width index packing (cpu/bitpack.h), LSB first, for 1 to 16 bits:
//   packCodes(codes: Uint32Array, bits, out: Uint8Array of ceil(n·bits/8) bytes)
//   unpackCodes(packed: Uint8Array of ceil(n·bits/8) bytes, bits, out: Uint32Array of n)
// Codes wider than `bits` are refused rather than masked: they would not round-trip.
#include "args.h"
#include "bindings.h"
#include "cpu/codec/bitpack.h"

namespace tz {

namespace {

struct Packed {
  uint32_t* codes;
  uint8_t* bytes;
  size_t n;
  unsigned bits;
};

// (codes at info[codesAt], bits at info[1], bytes at info[bytesAt]), sizes checked.
Packed ParsePacked(const Napi::CallbackInfo& info, size_t codesAt, size_t bytesAt) {
  Napi::TypedArray codes = RequireTypedArray(info, codesAt, napi_uint32_array, "codes");
  const unsigned bits = unsigned(RequireInt(info, 1, "bits", 1, 16));
  Napi::TypedArray bytes = RequireTypedArray(info, bytesAt, napi_uint8_array, "packed");
  const size_t n = codes.ElementLength();
  if (bytes.ByteLength() != packed_bytes(n, bits))
    throw Napi::RangeError::New(info.Env(), "packed must hold " + std::to_string(packed_bytes(n, bits)) + " bytes for " + std::to_string(n) + " codes of " +
                                                std::to_string(bits) + " bits, got " + std::to_string(bytes.ByteLength()));
  return {reinterpret_cast<uint32_t*>(TypedArrayBytes(codes)), TypedArrayBytes(bytes), n, bits};
}

Napi::Value Pack(const Napi::CallbackInfo& info) {
  const Packed p = ParsePacked(info, 0, 2);
  for (size_t i = 0; i < p.n; ++i)
    if (p.codes[i] >> p.bits) throw Napi::RangeError::New(info.Env(), "code " + std::to_string(p.codes[i]) + " does not fit in " + std::to_string(p.bits) + " bits");
  pack_codes(p.codes, p.n, p.bits, p.bytes);
  return info.Env().Undefined();
}

Napi::Value Unpack(const Napi::CallbackInfo& info) {
  const Packed p = ParsePacked(info, 2, 0);
  unpack_codes(p.bytes, p.n, p.bits, p.codes);
  return info.Env().Undefined();
}

}  // namespace

void RegisterBitpack(Napi::Env env, Napi::Object exports) {
  exports.Set("packCodes", Napi::Function::New(env, Pack, "packCodes"));
  exports.Set("unpackCodes", Napi::Function::New(env, Unpack, "unpackCodes"));
}

}  // namespace tz

// Argument checks for the Node-API entry points. Native code never trusts a type, length or
// offset from JS: everything is validated here and a TypeError/RangeError is thrown otherwise.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace tz {

const char* TypedArrayTypeName(napi_typedarray_type t);

// info[i] must be a TypedArray of exactly `type`; `what` names it in the error.
Napi::TypedArray RequireTypedArray(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type,
                                   const char* what);
std::string RequireString(const Napi::CallbackInfo& info, size_t i, const char* what);
// info[i] may be undefined/null (returns an empty object) or must be an object.
Napi::Object OptionalObject(const Napi::CallbackInfo& info, size_t i, const char* what);
// options[key]: undefined -> fallback; otherwise an integer in [min, max].
int64_t OptionalInt(const Napi::Object& options, const char* key, int64_t fallback, int64_t min, int64_t max);
std::string OptionalString(const Napi::Object& options, const char* key, const std::string& fallback);

// Start of a typed array's bytes (its buffer's data + byteOffset).
uint8_t* TypedArrayBytes(const Napi::TypedArray& a);
// Throws a RangeError when the byte ranges of two typed arrays overlap.
void RequireDisjoint(const Napi::TypedArray& a, const Napi::TypedArray& b, const char* what);

}  // namespace tz
